"""Reads one catchup.toml trace (CSV on stdin) and prints one catchup.csv row (run.sh).

behind: the leader's commit index at the heal minus n2's last log index then; caught_up_us: the
first delivery to the leader of an AppendEntries acknowledgement from n2 whose match index reaches
that commit index; install_chunks / append_requests: InstallSnapshot / AppendEntries requests sent
to n2 between the two."""
import sys

requests, snap, window = sys.argv[1:4]
heal = None
commit = 0  # the highest commit index of n0 / n1 so far
n2_last = 0
caught = None
chunks = appends = 0
for line in sys.stdin:
    c = line.rstrip("\n").split(",", 11)
    if len(c) < 12 or c[0] == "time_us":
        continue
    t, node, event, peer, msg, index = int(c[0]), c[2], c[3], c[4], c[5], c[7]
    if heal is None:
        if event == "heal":
            heal, target, behind = t, commit, commit - n2_last
        elif event == "commit" and node != "n2":
            commit = max(commit, int(index))
        elif event in ("store", "append") and node == "n2":
            n2_last = int(index)
        continue
    if event == "send" and peer == "n2":
        chunks += msg == "install_snapshot"
        appends += msg == "append_entries"
    if (event == "deliver" and peer == "n2" and msg == "append_entries_reply"
            and c[11] == "success" and int(index) >= target):
        caught = t
        break
if heal is None or caught is None:
    sys.exit(f"measure.py: no heal or no catch-up in the trace ({requests} {snap} {window})")
print(f"{requests},{snap},{window},{behind},{heal},{caught},{(caught - heal) / 1000:.1f},{chunks},{appends}")
