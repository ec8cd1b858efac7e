//! The session layer's guard: a session the store cannot save answers
//! "try again", never tower-sessions' empty 500.

mod save_guard;

pub(crate) use save_guard::guarded;
