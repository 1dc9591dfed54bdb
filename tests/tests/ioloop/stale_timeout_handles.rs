//! A timeout handle that ran or was removed names nothing, even once the
//! loop reuses its slot for a new timeout.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{IOLoop, MakeCurrent, RunMode};

#[test]
fn a_stale_handle_does_not_reach_the_timeout_that_reused_its_slot() {
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    // One handle removed, one that ran: both stale.
    let removed = ioloop.call_later(Duration::from_secs(3600), || {});
    assert!(ioloop.remove_timeout(removed));
    let ran = ioloop.call_later(Duration::ZERO, || {});
    ioloop.run_once(RunMode::NoWait).unwrap();
    assert!(!ioloop.remove_timeout(ran), "it ran");

    for stale in [removed, ran] {
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        let live = ioloop.call_later(Duration::from_millis(1), move || f.set(true));
        assert!(
            !ioloop.set_timeout_ref(stale, false),
            "a stale handle flips nothing"
        );
        assert!(!ioloop.remove_timeout(stale));
        // The live timeout still keeps `run` going until it fires, and only
        // the unreferenced guard could end the run without it.
        let l = ioloop.clone();
        let guard = ioloop.call_later(Duration::from_secs(5), move || l.stop());
        ioloop.set_timeout_ref(guard, false);
        ioloop.run().unwrap();
        ioloop.remove_timeout(guard);
        assert!(fired.get(), "run returned before the live timeout fired");
        assert!(!ioloop.remove_timeout(live));
    }
}
