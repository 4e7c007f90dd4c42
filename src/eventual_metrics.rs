//! NOTE FOR THE LEAD: this file is meant to become `src/metrics/eventual.rs` once `src/metrics.rs`
//! has been turned into `src/metrics/mod.rs` (done in parallel by another helper). It lives here
//! only to avoid a merge conflict; move it and change `crate::eventual_metrics` to
//! `crate::metrics::eventual` in `lib.rs` — nothing else refers to the path.
//!
//! Metrics of the eventually consistent KV, computed from trace rows (work in progress).
