//! A toy gossip protocol shared by the integration tests of the kernel and the sweep engine. It
//! knows nothing of Raft, which is the point: the kernel and the sweeps must work for any protocol.

use dsim::client::ClientOp;
use dsim::protocol::{Ctx, Message, Protocol, Timer};
use dsim::sim::{NodeId, SimDuration};
use dsim::trace::{Event, Record};
use rand::Rng;

/// A ping carrying how many pings its sender had seen (shown in the `index` column).
#[derive(Clone, Debug)]
pub struct Ping(pub u64);

impl Message for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn describe(&self, row: &mut Record) {
        row.index = Some(self.0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tick;

impl Timer for Tick {
    fn name(&self) -> &'static str {
        "tick"
    }
}

/// Every 10–20 ms, ping a random peer; count pings; lose the count on crash. A client request
/// makes the node ping itself after a 300 µs local delay (exercising delayed sends).
#[derive(Default)]
pub struct Gossip {
    seen: u64,
}

impl Protocol for Gossip {
    type Msg = Ping;
    type Timer = Tick;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer_range(Tick, SimDuration::from_ms(10), SimDuration::from_ms(20));
    }
    fn on_crash(&mut self) {
        self.seen = 0;
    }
    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.on_start(ctx);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, msg: Ping) {
        self.seen += 1;
        ctx.note(Record::new(Event::Note).index(msg.0).detail("got"));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: Tick) {
        let peers: Vec<NodeId> = ctx.peers().collect();
        let to = peers[ctx.rng().gen_range(0..peers.len())];
        ctx.send(to, Ping(self.seen));
        ctx.set_timer_range(Tick, SimDuration::from_ms(10), SimDuration::from_ms(20));
    }
    fn on_client(&mut self, ctx: &mut Ctx<'_, Self>, _op: ClientOp, _attempt: u32) {
        ctx.send_after(SimDuration::from_us(300), ctx.id(), Ping(u64::MAX));
    }
}
