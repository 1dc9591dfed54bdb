//! Platform code: every `unsafe` block of the crate lives under this
//! module, behind small safe functions.
//!
//! * [`process`]: child processes (`pidfd_open`, a non-reaping check that a
//!   pid is an unreaped child, `waitpid` without blocking). On Linux; the
//!   other platforms report `Unsupported`.

pub(crate) mod process;
