//! The checker must accept what one copy of the data could have answered,
//! and reject what it could not. Each test is a small timeline; times are
//! milliseconds on the shared clock.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{Action, Limits, Operation, Outcome, Report, Verdict, check};

fn ms(at: u64) -> Duration {
    Duration::from_millis(at)
}

/// An operation of `client` on document `d` over [`from`, `to`].
fn op(client: usize, action: Action, from: u64, to: u64, outcome: Outcome) -> Operation {
    Operation::new(client, "d", action, ms(from), ms(to), outcome)
}

fn ok(value: &str) -> Outcome {
    Outcome::Ok(Some(value.to_owned()))
}

fn create(v: &str) -> Action {
    Action::Create(v.to_owned())
}

fn update(v: &str) -> Action {
    Action::Update(v.to_owned())
}

fn run(history: &[Operation]) -> Report {
    let report = check(history, Limits::default());
    eprintln!("{report}");
    report
}

fn accepted(history: &[Operation]) {
    let report = run(history);
    assert!(report.is_linearizable(), "should be accepted:\n{report}");
}

fn rejected(history: &[Operation]) {
    let report = run(history);
    assert!(report.is_violation(), "should be rejected:\n{report}");
}

#[test]
fn a_sequential_history_that_follows_the_rules_is_accepted() {
    accepted(&[
        op(0, Action::Get, 0, 1, Outcome::NotFound),
        op(0, create("A"), 2, 3, ok("A")),
        op(1, create("B"), 4, 5, Outcome::AlreadyExists),
        op(1, update("B"), 6, 7, ok("B")),
        op(0, Action::Get, 8, 9, ok("B")),
        op(1, Action::Delete, 10, 11, Outcome::Ok(None)),
        op(0, Action::Delete, 12, 13, Outcome::NotFound),
        op(0, update("C"), 14, 15, Outcome::NotFound),
    ]);
}

#[test]
fn an_empty_history_is_accepted() {
    let report = run(&[]);
    assert!(report.is_linearizable() && report.documents.is_empty());
}

#[test]
fn a_stale_read_is_rejected() {
    // B replaced A before the read began; the read still saw A.
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(0, update("B"), 20, 30, ok("B")),
        op(1, Action::Get, 40, 50, ok("A")),
    ]);
}

#[test]
fn a_lost_write_is_rejected() {
    // The create was acknowledged; a later read finds nothing.
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 20, 30, Outcome::NotFound),
    ]);
}

#[test]
fn a_read_of_a_value_never_written_is_rejected() {
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 5, 30, ok("Z")),
    ]);
}

#[test]
fn a_write_applied_twice_is_rejected() {
    // Deleted after its create; a replayed create would bring A back.
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(0, Action::Delete, 20, 30, Outcome::Ok(None)),
        op(1, Action::Get, 40, 50, ok("A")),
    ]);
}

#[test]
fn answers_impossible_in_every_state_are_rejected() {
    // ALREADY_EXISTS on a document nobody created.
    rejected(&[op(0, create("A"), 0, 10, Outcome::AlreadyExists)]);
    // An update that answers a value it did not write.
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(0, update("B"), 20, 30, ok("A")),
    ]);
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value() {
    for seen in ["A", "B"] {
        accepted(&[
            op(0, create("A"), 0, 10, ok("A")),
            op(0, update("B"), 20, 100, ok("B")),
            op(1, Action::Get, 30, 40, ok(seen)),
        ]);
    }
}

#[test]
fn once_a_read_saw_the_new_value_a_later_read_may_not_see_the_old() {
    let write = [
        op(0, create("A"), 0, 10, ok("A")),
        op(0, update("B"), 20, 100, ok("B")),
    ];
    // Both reads overlap the write, but not each other.
    let mut history = write.to_vec();
    history.push(op(1, Action::Get, 30, 40, ok("B")));
    history.push(op(2, Action::Get, 50, 60, ok("A")));
    rejected(&history);
    // In the other order, fine: the write took effect between them.
    let mut history = write.to_vec();
    history.push(op(1, Action::Get, 30, 40, ok("A")));
    history.push(op(2, Action::Get, 50, 60, ok("B")));
    accepted(&history);
}

#[test]
fn two_overlapping_creates_one_wins_one_sees_it() {
    accepted(&[
        op(0, create("A"), 0, 50, Outcome::AlreadyExists),
        op(1, create("B"), 10, 20, ok("B")),
        op(2, Action::Get, 60, 70, ok("B")),
    ]);
    // But both cannot win.
    rejected(&[
        op(0, create("A"), 0, 50, ok("A")),
        op(1, create("B"), 10, 20, ok("B")),
    ]);
}

#[test]
fn a_tie_between_a_return_and_an_invocation_counts_as_overlap() {
    // The read was invoked at the instant the create returned: the two
    // clocks cannot say which came first, so either order is allowed.
    accepted(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 10, 20, Outcome::NotFound),
    ]);
    // A millisecond later, it is not.
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 11, 20, Outcome::NotFound),
    ]);
}

#[test]
fn an_unknown_write_may_take_effect_late_or_never() {
    let base = [
        op(0, create("A"), 0, 10, ok("A")),
        op(0, update("B"), 20, 30, Outcome::Unknown),
    ];
    // Taken effect (long after the client gave up on it)...
    for seen in [["A", "B"], ["A", "A"], ["B", "B"]] {
        let mut history = base.to_vec();
        history.push(op(1, Action::Get, 500, 510, ok(seen[0])));
        history.push(op(1, Action::Get, 600, 610, ok(seen[1])));
        accepted(&history);
    }
    // ...but once visible, it stays: it cannot be undone.
    let mut history = base.to_vec();
    history.push(op(1, Action::Get, 500, 510, ok("B")));
    history.push(op(1, Action::Get, 600, 610, ok("A")));
    rejected(&history);
}

#[test]
fn an_unknown_write_cannot_take_effect_before_it_was_sent() {
    rejected(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 20, 30, ok("B")),
        op(0, update("B"), 40, 50, Outcome::Unknown),
    ]);
}

#[test]
fn an_unknown_delete_explains_a_missing_document() {
    accepted(&[
        op(0, create("A"), 0, 10, ok("A")),
        op(0, Action::Delete, 20, 30, Outcome::Unknown),
        op(1, Action::Get, 40, 50, Outcome::NotFound),
        op(1, create("C"), 60, 70, ok("C")),
    ]);
}

#[test]
fn an_unknown_read_is_ignored() {
    let history = [
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 20, 30, Outcome::Unknown),
    ];
    let report = run(&history);
    assert!(report.is_linearizable());
    assert_eq!(
        report.documents[0].operations, 1,
        "the unknown read is dropped"
    );
}

#[test]
fn documents_are_checked_apart_and_the_report_names_the_bad_one() {
    let mut history = vec![
        op(0, create("A"), 0, 10, ok("A")),
        op(1, Action::Get, 20, 30, ok("A")),
    ];
    let mut other = Operation::new(2, "e", create("X"), ms(0), ms(10), ok("X"));
    history.push(other.clone());
    other.action = Action::Get;
    other.invoke = ms(20);
    other.complete = ms(30);
    other.outcome = Outcome::NotFound;
    history.push(other);
    let report = run(&history);
    assert!(report.is_violation());
    let verdicts: Vec<_> = report
        .documents
        .iter()
        .map(|d| (d.key.as_str(), matches!(d.verdict, Verdict::Linearizable)))
        .collect();
    assert_eq!(verdicts, vec![("d", true), ("e", false)]);
    let text = report.to_string();
    assert!(text.contains("NOT linearizable"), "{text}");
    assert!(
        text.contains("client 2 get → NOT_FOUND"),
        "the stuck read is named: {text}"
    );
}

#[test]
fn a_search_that_runs_out_of_steps_gives_up_instead_of_passing() {
    // Thirty concurrent unknown updates, then a read of a value none wrote:
    // not linearizable, but proving it means trying many orders.
    let mut history = vec![op(0, create("A"), 0, 1, ok("A"))];
    for client in 1..=30 {
        let value = format!("v{client}");
        history.push(op(client, update(&value), 2, 3, Outcome::Unknown));
    }
    history.push(op(99, Action::Get, 10, 11, ok("never")));
    let limits = Limits {
        steps: 1_000,
        time: Duration::from_secs(10),
    };
    let report = check(&history, limits);
    eprintln!("{report}");
    assert!(report.gave_up(), "{report}");
    assert!(!report.is_linearizable());
    assert!(report.to_string().contains("gave up"), "{report}");
}

/// A register run for real: operations take effect at random instants,
/// each inside a random window around it; some writes time out (unknown),
/// and of those some never took effect.
fn simulated(seed: u64, ops: usize, window: u64) -> Vec<Operation> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut state: Option<String> = None;
    let mut at = 1_000u64;
    let mut history = Vec::new();
    for i in 0..ops {
        at += rng.random_range(1..window);
        let value = format!("v{i}");
        let action = match rng.random_range(0..10) {
            0..=3 => Action::Get,
            4..=5 => Action::Create(value.clone()),
            6..=8 => Action::Update(value.clone()),
            _ => Action::Delete,
        };
        let unknown = action != Action::Get && rng.random_range(0..8) == 0;
        let applies = !unknown || rng.random_bool(0.5);
        let outcome = match (&action, state.is_some()) {
            (Action::Get, _) => state
                .clone()
                .map_or(Outcome::NotFound, |v| Outcome::Ok(Some(v))),
            (Action::Create(_), true) => Outcome::AlreadyExists,
            (Action::Update(_) | Action::Delete, false) => Outcome::NotFound,
            (Action::Create(v) | Action::Update(v), _) => Outcome::Ok(Some(v.clone())),
            (Action::Delete, true) => Outcome::Ok(None),
        };
        if applies {
            match (&action, &outcome) {
                (Action::Create(v) | Action::Update(v), Outcome::Ok(_)) => state = Some(v.clone()),
                (Action::Delete, Outcome::Ok(_)) => state = None,
                _ => {}
            }
        }
        let invoke = at - rng.random_range(0..window * 3);
        let complete = at + rng.random_range(0..window * 3);
        let outcome = if unknown { Outcome::Unknown } else { outcome };
        history.push(op(i % 16, action, invoke, complete, outcome));
    }
    history
}

#[test]
fn histories_of_a_real_register_are_always_accepted() {
    for seed in 0..40 {
        let history = simulated(seed, 300, 5);
        let report = check(&history, Limits::default());
        assert!(report.is_linearizable(), "seed {seed}:\n{report}");
    }
}

#[test]
fn one_corrupted_read_in_a_real_history_is_rejected() {
    let mut caught = 0;
    for seed in 0..20 {
        let mut history = simulated(seed, 300, 5);
        let Some(read) = history
            .iter_mut()
            .filter(|op| op.action == Action::Get)
            .nth(20)
        else {
            continue;
        };
        read.outcome = ok("a value nobody wrote");
        let report = check(&history, Limits::default());
        assert!(report.is_violation(), "seed {seed}:\n{report}");
        caught += 1;
    }
    assert!(caught >= 15, "enough histories had a 21st read: {caught}");
}
