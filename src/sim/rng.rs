//! Seeded randomness: one ChaCha stream per purpose, all derived from the run's `u64` seed.
//!
//! A run's seed is expanded (SplitMix64) into a ChaCha key; every purpose — the network, the fault
//! schedule, the client workload, each node's timers, each node's other choices — reads its own
//! ChaCha *stream* (ChaCha's 64-bit stream id) under that key. Streams never share draws, so changing
//! one knob (say the drop probability, which changes how often the network is consulted) cannot shift
//! the draws of another (the election timeouts): runs at different settings with one seed stay paired.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::sim::NodeId;

/// The generator every stream uses. ChaCha8 is plenty for simulation and the fastest ChaCha.
pub type SimRng = ChaCha8Rng;

/// What a stream is for. Each purpose maps to a distinct 64-bit ChaCha stream id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Latency, drop and duplicate draws of the network.
    Network,
    /// Fault times drawn from ranges, and the chaos schedule.
    Faults,
    /// Client request arrivals and contents.
    Workload,
    /// The random (`[chaos]`) fault generator.
    Chaos,
    /// Each node's clock drift ρ (`[clocks]`), one draw per node.
    Drift,
    /// The kernel's client layer: closed-loop op choices, think times, client-link delays.
    Clients,
    /// A node's timer draws (election timeouts and the like) and nothing else.
    NodeTimers(NodeId),
    /// A node's other random choices (peer selection and the like).
    Node(NodeId),
}

impl Purpose {
    fn stream_id(self) -> u64 {
        match self {
            Purpose::Network => 1,
            Purpose::Faults => 2,
            Purpose::Workload => 3,
            Purpose::Chaos => 4,
            Purpose::Drift => 5,
            Purpose::Clients => 6,
            Purpose::NodeTimers(n) => (1 << 32) | u64::from(n.0),
            Purpose::Node(n) => (2 << 32) | u64::from(n.0),
        }
    }
}

/// Derives the streams of one run.
#[derive(Clone, Debug)]
pub struct Streams {
    key: [u8; 32],
}

impl Streams {
    pub fn new(seed: u64) -> Streams {
        let mut key = [0u8; 32];
        let mut state = seed;
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Streams { key }
    }

    /// A fresh generator for `purpose`, positioned at the start of its stream.
    pub fn stream(&self, purpose: Purpose) -> SimRng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(purpose.stream_id());
        rng
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): spreads nearby seeds over the whole key space.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn first(rng: &mut SimRng) -> Vec<u64> {
        (0..8).map(|_| rng.gen()).collect()
    }

    #[test]
    fn same_seed_same_stream() {
        let a = Streams::new(7).stream(Purpose::Network);
        let b = Streams::new(7).stream(Purpose::Network);
        assert_eq!(first(&mut a.clone()), first(&mut b.clone()));
    }

    #[test]
    fn purposes_and_seeds_are_independent() {
        let s = Streams::new(7);
        let purposes = [
            Purpose::Network,
            Purpose::Faults,
            Purpose::Workload,
            Purpose::Chaos,
            Purpose::Drift,
            Purpose::Clients,
            Purpose::NodeTimers(NodeId(0)),
            Purpose::NodeTimers(NodeId(1)),
            Purpose::Node(NodeId(0)),
        ];
        let draws: Vec<Vec<u64>> = purposes.iter().map(|p| first(&mut s.stream(*p))).collect();
        for i in 0..draws.len() {
            for j in i + 1..draws.len() {
                assert_ne!(draws[i], draws[j], "{:?} and {:?} share draws", purposes[i], purposes[j]);
            }
        }
        assert_ne!(first(&mut Streams::new(8).stream(Purpose::Network)), draws[0]);
    }

    #[test]
    fn draining_one_stream_leaves_another_untouched() {
        let s = Streams::new(42);
        let mut net = s.stream(Purpose::Network);
        let before = first(&mut s.stream(Purpose::NodeTimers(NodeId(3))));
        for _ in 0..10_000 {
            let _: u64 = net.gen();
        }
        assert_eq!(first(&mut s.stream(Purpose::NodeTimers(NodeId(3)))), before);
    }
}
