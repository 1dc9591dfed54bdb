//! Processes: a server forked over several processes
//! ([`fork_processes`](crate::fork_processes), [`task_id`](crate::task_id)),
//! and child processes whose pipes are streams on the loop
//! ([`Subprocess`](crate::Subprocess)).

pub(crate) mod fork;
pub(crate) mod subprocess;
