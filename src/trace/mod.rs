//! Traces: the row every event becomes, the streaming CSV writer, the reader, and the manifest that
//! sits next to each trace. The column contract is documented in `docs/trace.md`.

pub mod manifest;
pub mod reader;
pub mod record;
pub mod writer;

pub use reader::TraceReader;
pub use record::{Clock, Event, Pairs, Record, Value};
pub use writer::{TraceInfo, TraceWriter};
