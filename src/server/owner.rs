//! The reactive owner each request runs in: a root of its own that is
//! never left as the worker thread's current owner (ISO-02).
//!
//! Leptos keeps "the current owner" in a thread-local. `Owner::new_root`
//! makes the new root current and leaves it there, and leptos_axum makes
//! each server function's owner a child of whatever owner is current. A
//! page that created its root that way and then awaited its data left it
//! current on the worker thread; a server function request of another
//! client that started on that thread became the page's child and found
//! the page's context (its signed-in user) as if it were its own.
//!
//! Every request therefore starts from [`fresh_root`], and its futures run
//! inside `ScopedFuture`s, which make the owner current only while they are
//! polled and put back what was current before.
//!
//! Rules that keep this true (every new entry point must follow them):
//! - a request's reactive work runs inside `owner.with(..)` or a
//!   `ScopedFuture` of that request's own root, never outside one: with
//!   Leptos' `sandboxed-arenas` each root has its own arena and the thread's
//!   current arena is not put back, so a signal read outside its owner
//!   could find another request's value of the same type;
//! - what may be read from inherited context is only what the request's own
//!   root (or leptos_axum, under it) provided: its `Parts`, its
//!   `ResponseOptions`, the engine. Data about the user travels in the
//!   request's extensions (`server::context`).

use leptos::prelude::Owner;

/// A new root owner, with no parent and no context, leaving the thread's
/// current owner (if any) as it was.
pub fn fresh_root() -> Owner {
    let previous = Owner::current();
    let root = Owner::new_root(None);
    match previous {
        Some(previous) => previous.set(),
        None => root.clone().unset(),
    }
    root
}

#[cfg(test)]
mod tests {
    use leptos::prelude::*;

    use super::fresh_root;

    #[test]
    fn iso_02_a_fresh_root_is_not_left_current() {
        let root = fresh_root();
        assert!(Owner::current().is_none(), "nothing was current, and nothing is");
        let outer = Owner::new();
        outer.with(|| {
            let inner = fresh_root();
            assert_eq!(Owner::current().as_ref(), Some(&outer), "the owner current before stays current");
            assert!(inner.parent().is_none());
        });
        drop(root);
    }

    #[test]
    fn iso_02_another_request_starting_on_the_thread_sees_nothing_of_a_pages_root() {
        #[derive(Clone)]
        struct PagesUser;
        let page = fresh_root();
        page.with(|| provide_context(PagesUser));
        // What leptos_axum does when a server function request starts on this thread.
        let call = Owner::new();
        assert!(call.parent().is_none(), "the page's root is not current");
        assert!(call.with(use_context::<PagesUser>).is_none());
    }

    #[test]
    fn iso_02_an_owner_made_inside_a_fresh_root_sees_none_of_what_was_current() {
        #[derive(Clone)]
        struct OtherRequestsUser;
        let other_request = Owner::new();
        other_request.with(|| {
            provide_context(OtherRequestsUser);
            let root = fresh_root();
            // What leptos_axum does for a server function: an owner under the current one.
            let call = root.with(Owner::new);
            assert!(call.with(use_context::<OtherRequestsUser>).is_none());
            assert!(use_context::<OtherRequestsUser>().is_some(), "the other request keeps its own");
        });
    }
}
