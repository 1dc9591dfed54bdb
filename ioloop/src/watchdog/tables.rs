//! [`Tables`]: the loaded objects' unwind tables that stack captures walk
//! with, kept fresh by a helper thread of the watchdog.
//!
//! Listing the loaded objects (`dl_iterate_phdr`) takes the loader's lock.
//! A loop thread blocked while it holds that lock (stuck in a library's
//! constructor during `dlopen`, say) is just what the watchdog must
//! report, so the watchdog thread never takes the lock itself: it asks the
//! helper for fresh tables and waits a little; if the helper does not
//! answer in time, the capture uses the tables it had.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use crate::sys;
use crate::watchdog::LOG_TARGET;

/// How long a capture waits for the helper to check the tables.
const FRESH_WITHIN: Duration = Duration::from_millis(50);

/// The latest unwind tables, and the helper's progress.
struct TablesState {
    /// Bumped by each request for fresh tables.
    wanted: u64,
    /// The last request the helper has answered.
    answered: u64,
    modules: Option<Arc<sys::Modules>>,
}

/// The unwind tables of one process, refreshed by their own thread.
pub(crate) struct Tables {
    state: Mutex<TablesState>,
    changed: Condvar,
}

impl Tables {
    pub(crate) const fn new() -> Tables {
        Tables {
            state: Mutex::new(TablesState {
                wanted: 0,
                answered: 0,
                modules: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, TablesState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the helper thread, which builds the tables at once.
    pub(crate) fn start(&'static self) {
        self.state().wanted += 1;
        let helper = thread::Builder::new()
            .name("ioloop-watchdog-tables".to_owned())
            .spawn(move || self.serve());
        if let Err(err) = helper {
            log::warn!(target: LOG_TARGET, "no stack captures: cannot start a thread: {err}");
        }
    }

    /// Tables for a capture: fresh if the helper checks them within
    /// [`FRESH_WITHIN`], else the latest it built (`None` before the
    /// first).
    pub(crate) fn fresh(&self) -> Option<Arc<sys::Modules>> {
        let mut state = self.state();
        state.wanted += 1;
        let wanted = state.wanted;
        self.changed.notify_all();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, FRESH_WITHIN, |s| s.answered < wanted)
            .unwrap_or_else(PoisonError::into_inner);
        state.modules.clone()
    }

    /// The helper thread: rebuilds the tables when asked and objects were
    /// loaded or unloaded since they were built.
    fn serve(&self) {
        let mut current: Option<Arc<sys::Modules>> = None;
        loop {
            let wanted = {
                let state = self
                    .changed
                    .wait_while(self.state(), |s| s.answered == s.wanted)
                    .unwrap_or_else(PoisonError::into_inner);
                state.wanted
            };
            // Outside the lock: this may wait for the loader's lock.
            let now = sys::loaded_objects_generation();
            if current.as_ref().is_none_or(|m| m.generation() != now) {
                current = Some(Arc::new(sys::Modules::load()));
            }
            let mut state = self.state();
            state.modules = current.clone();
            state.answered = wanted;
            self.changed.notify_all();
        }
    }
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").finish_non_exhaustive()
    }
}
