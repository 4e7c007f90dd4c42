"""Attributes a massif snapshot's heap to dsim frames: `python3 massif_attr.py ms_print.txt N` reads
the `ms_print --threshold=0.05` text of a massif run, walks detailed snapshot N's allocation tree,
and sums each allocation under the innermost frame whose function is in the `dsim::` crate (the
structure that asked for the memory), largest first, in MB."""
import re,sys,collections
txt=open(sys.argv[1]).read()
snap=sys.argv[2]
i=txt.find('\n '+snap+' ')
j=txt.find('\n-----', txt.find('\n', i+200)+1)
seg=txt[i:]
lines=seg.split('\n')[1:]
acc=collections.Counter()
stack=[]  # (depth, found)
for l in lines:
    if l.startswith('----') : break
    m=re.match(r'^([ |]*)->(\d+\.\d+)% \(([\d,]+)B\) (0x[0-9A-F]+: )?(.*)$', l)
    if not m: continue
    depth=len(m.group(1))
    b=int(m.group(3).replace(',',''))
    fn=m.group(5)
    while stack and stack[-1][0]>=depth: stack.pop()
    found=any(s[1] for s in stack)
    isd='dsim::' in fn
    if isd and not found:
        acc[fn[:140]]+=b
    stack.append((depth, found or isd))
for k,v in acc.most_common(25): print(f"{v/1e6:8.2f} MB  {k}")
