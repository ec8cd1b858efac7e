//! The token endpoint's circuit breaker (FLT-04): when most recent token
//! requests failed for an outage, renewals stop asking (the callers serve
//! the tokens they hold, or say the sign-in service is unavailable) and a
//! few probes decide when to ask again; a 429 with `Retry-After` pauses
//! every renewal of the app for that long.
//!
//! One per process: each instance learns of an outage from its own
//! requests (a handful each), while what one user's renewals learnt is
//! shared through the token cache (`RenewalBackoff`). The state machine
//! takes the time as an argument, so its tests need no clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::telemetry;

/// Outcomes older than this no longer count.
const WINDOW: Duration = Duration::from_secs(30);
/// At most this many recent outcomes are weighed.
const WINDOW_REQUESTS: usize = 20;
/// The breaker opens when the window holds at least this many outages...
const MIN_OUTAGES: usize = 5;
/// ... and they are at least half of the requests in it.
const OUTAGE_SHARE: f64 = 0.5;
/// How long the breaker first stays open; each failed probe doubles it.
const FIRST_COOL_DOWN: Duration = Duration::from_secs(5);
/// The longest it stays open before probing again.
const MAX_COOL_DOWN: Duration = Duration::from_secs(60);
/// Requests let through at once to probe a recovering endpoint.
const PROBES: u32 = 2;
/// The longest app-wide pause a `Retry-After` is believed for.
const MAX_THROTTLE: Duration = Duration::from_secs(300);

/// Whether a token request may be sent now.
pub(crate) enum Admission {
    /// Send it, and report how it went on the ticket.
    Go(Ticket),
    /// Do not send it; the endpoint is expected back in about `retry_in`.
    Wait {
        /// Why renewals are held.
        why: Held,
        /// How long until the breaker lets requests through again.
        retry_in: Duration,
    },
}

/// Why renewals are held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Most recent token requests failed for an outage.
    Breaker,
    /// The token endpoint answered 429 with `Retry-After`.
    Throttled,
}

impl Held {
    /// The `reason` label of the deferred-renewals metric.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Breaker => "breaker",
            Self::Throttled => "throttled",
        }
    }
}

/// How a sent token request went, as far as the endpoint's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It answered as a token endpoint does (tokens, or an OAuth refusal).
    Answered,
    /// It failed for an outage (connect error, timeout, 5xx, 429, a gateway's page).
    Outage {
        /// The app-wide pause a 429 asked for.
        throttled_for: Option<Duration>,
    },
}

/// The breaker's state machine.
#[derive(Debug)]
enum Mode {
    /// Requests go through; outcomes are weighed.
    Closed,
    /// Nothing goes through until `until`.
    Open { until: Instant, cool_down: Duration },
    /// Up to [`PROBES`] requests go through; the first to answer closes the
    /// breaker, an outage opens it again for longer.
    HalfOpen { probing: u32, cool_down: Duration },
}

impl Mode {
    fn label(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }

    /// The gauge's value: 0 closed, 1 half open, 2 open.
    fn gauge(&self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen { .. } => 1.0,
            Self::Open { .. } => 2.0,
        }
    }
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Counts transitions: a ticket answers for the mode it was given in,
    /// so a request sent before the breaker opened, answering late, does
    /// not decide a later round of probes.
    epoch: u64,
    /// Recent outcomes of requests sent while closed: (when, whether an outage).
    recent: VecDeque<(Instant, bool)>,
    /// Every renewal waits until then (a 429's `Retry-After`).
    throttled_until: Option<Instant>,
}

/// The token endpoint's breaker, shared by every renewal of this process.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    state: Arc<Mutex<State>>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self { state: Arc::new(Mutex::new(State { mode: Mode::Closed, epoch: 0, recent: VecDeque::new(), throttled_until: None })) }
    }
}

/// What a ticket was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A renewal while the breaker was closed.
    Renewal,
    /// A renewal probing a recovering endpoint.
    Probe,
    /// A code redemption (never held by an open breaker; its answer closes it).
    SignIn,
}

/// The right to send one token request; reports its outcome to the breaker.
/// Dropped unreported (the caller went away), it frees its probe slot and
/// counts for nothing.
pub(crate) struct Ticket {
    breaker: Breaker,
    kind: Kind,
    epoch: u64,
    reported: bool,
}

impl Ticket {
    /// Tells the breaker how the request went.
    pub(crate) fn report(mut self, outcome: Outcome) {
        self.reported = true;
        self.breaker.settle(self.kind, self.epoch, Some(outcome), Instant::now());
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.settle(self.kind, self.epoch, None, Instant::now());
        }
    }
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a renewal may be sent now; takes a probe slot when half open.
    pub(crate) fn admit_renewal(&self) -> Admission {
        self.admit_renewal_at(Instant::now())
    }

    /// Why renewals are held now, without taking a probe slot (the cheap
    /// check before any store round trip).
    pub(crate) fn holding(&self) -> Option<(Held, Duration)> {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(wait) = throttled(&mut state, now) {
            return Some((Held::Throttled, wait));
        }
        match state.mode {
            Mode::Open { until, .. } if until > now => Some((Held::Breaker, until - now)),
            Mode::HalfOpen { probing, .. } if probing >= PROBES => Some((Held::Breaker, Duration::from_secs(1))),
            _ => None,
        }
    }

    /// Whether a code redemption may be sent now. A sign-in is a person
    /// waiting: an outage breaker never holds it (it is the best probe
    /// there is), and a 429's pause holds it only when the pause ends within
    /// `limit`, after which it goes (the pause it waited out is over).
    pub(crate) async fn admit_sign_in(&self, limit: Duration) -> Result<Ticket, Duration> {
        let mut waited = false;
        loop {
            let (wait, epoch) = {
                let mut state = self.lock();
                (throttled(&mut state, Instant::now()), state.epoch)
            };
            match wait {
                // Once waited: a pause that was made longer meanwhile is not waited out again.
                Some(wait) if wait > limit || waited => return Err(wait),
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    waited = true;
                }
                None => return Ok(self.ticket(Kind::SignIn, epoch)),
            }
        }
    }

    fn ticket(&self, kind: Kind, epoch: u64) -> Ticket {
        Ticket { breaker: self.clone(), kind, epoch, reported: false }
    }

    fn admit_renewal_at(&self, now: Instant) -> Admission {
        let mut state = self.lock();
        if let Some(retry_in) = throttled(&mut state, now) {
            return Admission::Wait { why: Held::Throttled, retry_in };
        }
        match state.mode {
            Mode::Closed => Admission::Go(self.ticket(Kind::Renewal, state.epoch)),
            Mode::Open { until, .. } if until > now => Admission::Wait { why: Held::Breaker, retry_in: until - now },
            Mode::Open { cool_down, .. } => {
                transition(&mut state, Mode::HalfOpen { probing: 1, cool_down });
                Admission::Go(self.ticket(Kind::Probe, state.epoch))
            }
            Mode::HalfOpen { probing, cool_down } if probing < PROBES => {
                state.mode = Mode::HalfOpen { probing: probing + 1, cool_down };
                Admission::Go(self.ticket(Kind::Probe, state.epoch))
            }
            // The probes out now decide; about a second is a fair guess of when.
            Mode::HalfOpen { .. } => Admission::Wait { why: Held::Breaker, retry_in: Duration::from_secs(1) },
        }
    }

    fn settle(&self, kind: Kind, epoch: u64, outcome: Option<Outcome>, now: Instant) {
        let mut state = self.lock();
        if let Some(Outcome::Outage { throttled_for: Some(pause) }) = outcome {
            let until = now + pause.min(MAX_THROTTLE);
            if state.throttled_until.is_none_or(|current| current < until) {
                if state.throttled_until.is_none() {
                    tracing::warn!(seconds = pause.min(MAX_THROTTLE).as_secs(), "the token endpoint throttles this app; renewals pause");
                }
                state.throttled_until = Some(until);
            }
        }
        // A late answer to a request given in an earlier mode says nothing about this one.
        if epoch != state.epoch {
            return;
        }
        match (&state.mode, kind, outcome) {
            // Unreported: nothing learnt; a probe's slot is freed for another.
            (Mode::HalfOpen { probing, cool_down }, Kind::Probe, None) => {
                state.mode = Mode::HalfOpen { probing: probing.saturating_sub(1), cool_down: *cool_down };
            }
            (_, _, None) => {}
            // The endpoint answered a probe, or a person's sign-in: it is back.
            (Mode::HalfOpen { .. } | Mode::Open { .. }, Kind::Probe | Kind::SignIn, Some(Outcome::Answered)) => {
                state.recent.clear();
                transition(&mut state, Mode::Closed);
            }
            (Mode::HalfOpen { cool_down, .. }, Kind::Probe, Some(Outcome::Outage { .. })) => {
                let cool_down = (*cool_down * 2).min(MAX_COOL_DOWN);
                transition(&mut state, Mode::Open { until: now + cool_down, cool_down });
            }
            (Mode::Closed, _, Some(outcome)) => {
                let outage = matches!(outcome, Outcome::Outage { .. });
                state.recent.push_back((now, outage));
                while state.recent.len() > WINDOW_REQUESTS || state.recent.front().is_some_and(|(at, _)| now.duration_since(*at) > WINDOW) {
                    state.recent.pop_front();
                }
                let outages = state.recent.iter().filter(|(_, outage)| *outage).count();
                if outages >= MIN_OUTAGES && outages as f64 >= OUTAGE_SHARE * state.recent.len() as f64 {
                    transition(&mut state, Mode::Open { until: now + FIRST_COOL_DOWN, cool_down: FIRST_COOL_DOWN });
                }
            }
            // A sign-in failing while open or probing: the probes decide.
            _ => {}
        }
    }

    /// Publishes the breaker's state as a gauge (for a scrape).
    pub(crate) fn record_gauge(&self) {
        telemetry::breaker_state(self.lock().mode.gauge());
    }
}

/// How long the app-wide 429 pause still lasts; clears it when over.
fn throttled(state: &mut State, now: Instant) -> Option<Duration> {
    match state.throttled_until {
        Some(until) if until > now => Some(until - now),
        Some(_) => {
            state.throttled_until = None;
            tracing::info!("the token endpoint's throttling pause is over");
            None
        }
        None => None,
    }
}

/// Moves to `mode`, with one log line and the metrics every transition gets.
fn transition(state: &mut State, mode: Mode) {
    state.epoch += 1;
    match &mode {
        Mode::Open { cool_down, .. } => {
            tracing::warn!(seconds = cool_down.as_secs(), "the token endpoint is failing; renewals pause and cached tokens are served")
        }
        Mode::HalfOpen { .. } => tracing::info!("probing the token endpoint"),
        Mode::Closed => tracing::warn!("the token endpoint answers again; renewals resume"),
    }
    telemetry::breaker_transition(mode.label(), mode.gauge());
    state.mode = mode;
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTAGE: Outcome = Outcome::Outage { throttled_for: None };

    fn go(breaker: &Breaker, now: Instant) -> Ticket {
        match breaker.admit_renewal_at(now) {
            Admission::Go(ticket) => ticket,
            Admission::Wait { why, retry_in } => panic!("held: {why:?} for {retry_in:?}"),
        }
    }

    fn report(ticket: Ticket, outcome: Outcome, now: Instant) {
        let mut ticket = ticket;
        ticket.reported = true;
        ticket.breaker.settle(ticket.kind, ticket.epoch, Some(outcome), now);
    }

    fn held(breaker: &Breaker, now: Instant) -> Option<Held> {
        match breaker.admit_renewal_at(now) {
            Admission::Go(_) => None,
            Admission::Wait { why, .. } => Some(why),
        }
    }

    #[test]
    fn flt_04_opens_after_most_recent_requests_failed_and_probes_before_closing() {
        let breaker = Breaker::default();
        let start = Instant::now();
        for _ in 0..3 {
            report(go(&breaker, start), Outcome::Answered, start);
        }
        for _ in 0..4 {
            report(go(&breaker, start), OUTAGE, start);
        }
        assert_eq!(held(&breaker, start), None, "four outages of seven: still closed");
        report(go(&breaker, start), OUTAGE, start);
        assert_eq!(held(&breaker, start), Some(Held::Breaker), "five of eight: open");
        assert_eq!(held(&breaker, start + FIRST_COOL_DOWN - Duration::from_millis(1)), Some(Held::Breaker));

        // Cool-down over: two probes go, the third waits.
        let later = start + FIRST_COOL_DOWN;
        let first = go(&breaker, later);
        let second = go(&breaker, later);
        assert_eq!(held(&breaker, later), Some(Held::Breaker));
        // A failed probe opens it again, for twice as long.
        report(first, OUTAGE, later);
        drop(second);
        assert_eq!(held(&breaker, later + FIRST_COOL_DOWN * 2 - Duration::from_millis(1)), Some(Held::Breaker));
        let probe = go(&breaker, later + FIRST_COOL_DOWN * 2);
        report(probe, Outcome::Answered, later + FIRST_COOL_DOWN * 2);
        assert_eq!(held(&breaker, later + FIRST_COOL_DOWN * 2), None, "a probe that was answered closes it");
    }

    #[test]
    fn flt_04_a_few_failures_among_many_answers_do_not_open_it() {
        let breaker = Breaker::default();
        let now = Instant::now();
        for round in 0..40 {
            let outcome = if round % 3 == 0 { OUTAGE } else { Outcome::Answered };
            report(go(&breaker, now), outcome, now);
        }
        assert_eq!(held(&breaker, now), None);
    }

    #[test]
    fn flt_04_old_failures_fall_out_of_the_window() {
        let breaker = Breaker::default();
        let start = Instant::now();
        for _ in 0..4 {
            report(go(&breaker, start), OUTAGE, start);
        }
        let later = start + WINDOW + Duration::from_secs(1);
        report(go(&breaker, later), OUTAGE, later);
        assert_eq!(held(&breaker, later), None, "one recent outage is not most requests failing");
    }

    #[test]
    fn flt_04_a_429_pauses_every_renewal_for_its_retry_after_and_no_longer() {
        let breaker = Breaker::default();
        let now = Instant::now();
        report(go(&breaker, now), Outcome::Outage { throttled_for: Some(Duration::from_secs(30)) }, now);
        assert_eq!(held(&breaker, now + Duration::from_secs(29)), Some(Held::Throttled));
        assert_eq!(held(&breaker, now + Duration::from_secs(30)), None);
    }

    #[test]
    fn flt_04_a_probe_whose_caller_went_away_frees_its_slot() {
        let breaker = Breaker::default();
        let start = Instant::now();
        for _ in 0..MIN_OUTAGES {
            report(go(&breaker, start), OUTAGE, start);
        }
        let later = start + FIRST_COOL_DOWN;
        drop(go(&breaker, later));
        drop(go(&breaker, later));
        let _ = go(&breaker, later);
    }

    #[tokio::test]
    async fn flt_04_sign_ins_pass_an_open_breaker_and_fail_fast_behind_a_long_throttle() {
        let breaker = Breaker::default();
        let now = Instant::now();
        for _ in 0..MIN_OUTAGES {
            report(go(&breaker, now), OUTAGE, now);
        }
        assert!(breaker.admit_sign_in(Duration::ZERO).await.is_ok(), "an outage breaker never holds a sign-in");
        report(go_anyway(&breaker), Outcome::Outage { throttled_for: Some(Duration::from_secs(120)) }, Instant::now());
        let wait = breaker.admit_sign_in(Duration::from_secs(5)).await.err().expect("held");
        assert!(wait > Duration::from_secs(100), "{wait:?}");
    }

    fn go_anyway(breaker: &Breaker) -> Ticket {
        let epoch = breaker.lock().epoch;
        breaker.ticket(Kind::SignIn, epoch)
    }

    #[test]
    fn flt_04_a_request_sent_before_the_breaker_opened_does_not_decide_the_probes() {
        let breaker = Breaker::default();
        let start = Instant::now();
        let slow = go(&breaker, start);
        for _ in 0..MIN_OUTAGES {
            report(go(&breaker, start), OUTAGE, start);
        }
        let later = start + FIRST_COOL_DOWN;
        let probe = go(&breaker, later);
        // The slow request times out now: the half-open round is not re-opened by it.
        report(slow, OUTAGE, later);
        assert_eq!(held(&breaker, later), None, "the second probe slot is still free");
        report(probe, Outcome::Answered, later);
        assert_eq!(held(&breaker, later), None, "closed by the probe");
    }

    #[tokio::test]
    async fn flt_04_a_sign_in_answered_while_open_closes_the_breaker() {
        let breaker = Breaker::default();
        let now = Instant::now();
        for _ in 0..MIN_OUTAGES {
            report(go(&breaker, now), OUTAGE, now);
        }
        assert_eq!(held(&breaker, now), Some(Held::Breaker));
        let Ok(sign_in) = breaker.admit_sign_in(Duration::ZERO).await else { panic!("admitted") };
        report(sign_in, Outcome::Answered, now);
        assert_eq!(held(&breaker, now), None);
    }
}
