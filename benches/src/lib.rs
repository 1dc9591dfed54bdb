//! Shared benchmark workloads. The criterion benchmarks in `benches/`
//! print ours and the peers' side by side; the binaries in `src/bin/` run
//! one workload once, for whole-process timing and profiling.
//!
//! Everything is behind the `peers` feature, so that the test build of
//! the workspace never compiles the peers' runtimes:
//!
//! ```text
//! cargo bench -p benches --features peers                 # every group
//! cargo run --release -p benches --features peers --bin micro -- pingpong_100_pairs ioloop
//! ```

#[cfg(feature = "peers")]
pub mod micro;
