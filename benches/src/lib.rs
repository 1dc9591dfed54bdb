//! Shared benchmark workloads. The criterion benchmarks in `benches/`
//! print ours and the peers' side by side; the binaries in `src/bin/` run
//! one workload once, for whole-process timing and profiling.
//!
//! ```text
//! cargo bench -p benches                                  # every group
//! cargo run --release -p benches --bin micro -- pingpong_100_pairs ioloop
//! ```

pub mod micro;
