//! `dsim lincheck` on hand-written Jepsen EDN histories and a dsim trace: one test per exit code.

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/lin/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn lincheck(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("dsim").unwrap().arg("lincheck").args(args).assert()
}

#[test]
fn linearizable_histories_exit_0() {
    lincheck(&[&fixture("register-ok.edn")])
        .code(0)
        .stdout(predicate::str::contains("linearizable (1 keys, 7 ops,"));
    lincheck(&[&fixture("independent-ok.edn")]).code(0).stdout(predicate::str::contains("(2 keys, 5 ops,"));
}

#[test]
fn violations_exit_1_with_the_ops_and_a_timeline() {
    lincheck(&[&fixture("stale-read.edn")]).code(1).stdout(
        predicate::str::contains(
            "not linearizable: key (single register): 3 ops cannot be linearised (1-minimal)",
        )
        .and(predicate::str::contains("op 0 p0 write 1 ok (line 2..3)"))
        .and(predicate::str::contains("op 3 p1 read 1 ok (line 8..9)"))
        .and(predicate::str::contains("time_ns     line  p0"))
        .and(predicate::str::contains("+ read 2").not()),
    );
    lincheck(&[&fixture("independent-bad.edn")]).code(1).stdout(
        predicate::str::contains("key 8: 2 ops cannot be linearised")
            .and(predicate::str::contains("cas nil->2")),
    );
    lincheck(&[&fixture("trace-stale.csv")]).code(1).stdout(
        predicate::str::contains("key k0: 3 ops")
            .and(predicate::str::contains("op 3 p1 read v1 ok (seq 5..6)"))
            .and(predicate::str::contains("time_us      seq")),
    );
}

#[test]
fn json_output_names_the_result() {
    let out = lincheck(&[&fixture("stale-read.edn"), "--json"]).code(1).get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["result"], "not_linearizable");
    assert_eq!(v["witness"].as_array().unwrap().len(), 3);
    assert_eq!(v["minimal"], true);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    lincheck(&[&fixture("bad-f.edn")]).code(2).stderr(predicate::function(|s: &str| {
        s.lines().count() == 1 && s.contains("bad-f.edn:3: :f :incr: :f :read, :write or :cas")
    }));
    lincheck(&[&fixture("trace-stale.csv"), "--format", "edn"]).code(2);
    lincheck(&[&fixture("register-ok.edn"), "--format", "xml"])
        .code(2)
        .stderr(predicate::str::contains("--format \"xml\": auto, trace or edn"));
    lincheck(&[&fixture("register-ok.edn"), "--lin-budget", "0"]).code(2);
    lincheck(&[&fixture("missing.edn")]).code(2);
}

#[test]
fn an_exhausted_budget_exits_3_not_0() {
    lincheck(&[&fixture("register-ok.edn"), "--lin-budget", "2"])
        .code(3)
        .stdout(predicate::str::contains("undecided: key (single register) needs more than 2 search states"));
}

#[test]
fn a_trace_without_client_rows_passes_only_vacuously_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(
        &path,
        "time_us,seq,node,event,peer,msg,term,index,key,value,clock,detail\n0,0,n0,role,,,1,,,follower,,\n",
    )
    .unwrap();
    lincheck(&[path.to_str().unwrap()])
        .code(0)
        .stdout(predicate::str::contains("linearizable, vacuously: no client ops"));
}
