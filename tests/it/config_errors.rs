//! Error messages for bad scenario files (`tests/fixtures/bad/*.ron`, one error class each)
//! and bad `--set` overrides, checked on the rendered `ScenarioError`; and the loader never
//! panics, whatever prefix of a valid file it is given.

use std::path::Path;

use clustersim_scenarios::raw::Scenario;
use clustersim_scenarios::{ScenarioError, load, load_file};
use clustersim_tests::{catalogue, file_name, fixture, overrides, read_text, ron_files};

/// How a fixture must fail.
struct Case {
    /// File name under `tests/fixtures/bad/`.
    file: &'static str,
    /// For syntax errors: text whose first occurrence in the file is where the error must
    /// point (line and column). `None` for semantic errors.
    at: Option<&'static str>,
    /// For semantic errors: exactly this many diagnostics (`None`: not checked here).
    count: Option<usize>,
    /// Substrings of the rendered error.
    expect: &'static [&'static str],
}

const fn syntax(file: &'static str, at: &'static str, expect: &'static [&'static str]) -> Case {
    Case {
        file,
        at: Some(at),
        count: None,
        expect,
    }
}

const fn semantic(
    file: &'static str,
    count: Option<usize>,
    expect: &'static [&'static str],
) -> Case {
    Case {
        file,
        at: None,
        count,
        expect,
    }
}

const CASES: &[Case] = &[
    syntax(
        "unknown_field.ron",
        "wrokers",
        &[
            ": components[1].kind.Service.wrokers: unexpected field named `wrokers`",
            "expected one of `instances`, `workers`, `queue_capacity`, `service_time`",
            "did you mean `workers`?",
        ],
    ),
    syntax(
        "unknown_plugin.ron",
        "Hypervisor",
        &[
            ": components[1].kind: unexpected variant named `Hypervisor`",
            "`OpenLoop`, `ClosedLoop`, ",
            "`Service`",
        ],
    ),
    semantic(
        "misspelled_target.ron",
        None, // see `an_unknown_target_is_reported_once`
        &[
            ": components[0].kind.OpenLoop.target: unknown component `backend`",
            "hint: did you mean `backends`?",
        ],
    ),
    semantic(
        "unknown_fault_node.ron",
        Some(1),
        &[
            ": faults[0].action.Crash.node: unknown node or component `db-3`",
            "hint: did you mean `db-1`?",
        ],
    ),
    semantic(
        "duplicate_names.ron",
        Some(1),
        &[
            ": components[2].name: duplicate component name `app`",
            "names must be unique",
        ],
    ),
    syntax(
        "zero_rate.ron",
        "\"0/s\"",
        &[": components[0].kind.OpenLoop.rate: invalid rate `0/s`: a rate must be > 0"],
    ),
    syntax(
        "negative_rate.ron",
        "\"-50/s\"",
        &[": components[0].kind.OpenLoop.rate: invalid rate `-50/s`: a rate must be > 0"],
    ),
    syntax(
        "probability_above_one.ron",
        "1.5",
        &[
            ": components[1].kind.Service.calls[0].probability: invalid probability `1.5`",
            "between 0 and 1",
        ],
    ),
    semantic(
        "warmup_too_long.ron",
        Some(1),
        &[
            ": warmup: warm-up 30s is not shorter than the run (10s)",
            "hint: shorten `warmup`",
        ],
    ),
    semantic(
        "call_cycle.ron",
        Some(1),
        &[
            ": the call graph has a cycle through `",
            "remove the call that leads back",
        ],
    ),
    semantic(
        "client_as_target.ron",
        None,
        &[": components[1].kind: `app` sends requests to `clients`, which is a client"],
    ),
    semantic(
        "lb_bad_pools.ron",
        Some(3),
        &[
            ": components[1].kind.LoadBalancer.pools: route by the request's operation",
            "set `layer: L7`",
            ": components[2].kind.LoadBalancer.pools[1].backends[0]: `r2` is not a backend of this balancer",
            "(currently: primary, r1)",
            ": components[2].kind.LoadBalancer.pools[1].backends[1]: unknown component `r11`",
        ],
    ),
    semantic(
        "fault_after_end.ron",
        Some(1),
        &[": faults[0].at: fault at 15s is after the end of the run (10s)"],
    ),
    semantic(
        "lognormal_p99_below_median.ron",
        Some(1),
        &[
            ": components[1].kind.Service.service_time: ",
            "`p99`",
            "must be greater than `median`",
        ],
    ),
    syntax(
        "trailing_characters.ron",
        "oops",
        &["trailing characters after the scenario"],
    ),
    syntax(
        "bad_duration.ron",
        "\"5 parsecs\"",
        &[
            ": duration: invalid duration `5 parsecs`: unknown unit",
            "\"250us\", \"5ms\"",
        ],
    ),
    semantic(
        "several_errors.ron",
        None, // five problems; see `an_unknown_target_is_reported_once`
        &[
            ": warmup: warm-up 20s is not shorter than the run (10s)",
            ": components[2].name: duplicate component name `app`",
            ": components[0].kind.OpenLoop.target: unknown component `ap`",
            "did you mean `app`?",
            ": components[1].kind.Service.workers: a service needs at least one worker",
            ": faults[0].action.Pause.node: unknown node or component `nowhere`",
        ],
    ),
    semantic(
        "messaging_errors.ron",
        Some(5),
        &[
            ": components[0].kind.Messaging.QueueBroker.exchanges[0].bindings[0].key: `order.*` uses a wildcard on a Direct exchange",
            "only Topic exchanges understand `*` and `#`",
            ": components[0].kind.Messaging.QueueBroker.queues[0].retry.max_attempts: is 0, but a message needs at least 1 attempt",
            ": components[1].kind.Messaging.Producer.exchange: a producer needs exactly one of `exchange` (queue broker) and `topic` (log broker)",
            ": components[2].kind.Messaging.QueueConsumer.queue: unknown queue `emials`",
            "did you mean `emails`?",
            ": components[4].kind.Messaging.QueueConsumer.broker: `svc` is not a QueueBroker",
        ],
    ),
    semantic(
        "limiter_store_not_a_store.ron",
        Some(1),
        &[
            ": components[1].kind.RateLimiter.mode.Sync.store: `rl` keeps its counters in `db`, which is not a CounterStore",
            "name a CounterStore component: redis",
        ],
    ),
    semantic(
        "patterns_wrong_kinds.ron",
        Some(5),
        &[
            ": components[1].kind.Pattern.Saga.steps[1]: `db` is not a SagaParticipant component",
            "name a SagaParticipant component: orders",
            ": components[1].kind.Pattern.Saga.step_timeout: is 0, but it must be > 0",
            ": components[4].kind.Pattern.CqrsWrite.read_models[0]: `db` is not a CqrsRead component",
            "add a `Pattern(CqrsRead(...))` component and name it here",
            ": components[5].kind.Pattern.IdempotentServer.key_store.Shared.store: `db` is not an IdempotencyStore component",
            ": components[6].kind.Pattern.StranglerRouter.routes[0].schedule[1].at: schedule steps must be in strictly increasing time order",
        ],
    ),
    semantic(
        "store_bad_replicas.ron",
        Some(2),
        &[
            ": components[1].kind.Store.replication.Quorum.r: r must be in 1..=3 (the replicas), got 4",
            ": components[1].kind.Store.replicas[1]: `api` is not a StoreReplica, so it cannot hold this store's data",
            "name a StoreReplica: db1, db2",
        ],
    ),
];

/// 1-based (line, column in characters) of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the fixture"));
    let before = &text[..at];
    (
        1 + before.matches('\n').count(),
        1 + before.rsplit('\n').next().unwrap_or("").chars().count(),
    )
}

fn load_bad(file: &str) -> (ScenarioError, String) {
    let path = fixture(&format!("bad/{file}"));
    match load_file(&path, &[]) {
        Ok(_) => panic!("{file} loaded without error"),
        Err(e) => (e, read_text(&path)),
    }
}

#[test]
fn every_bad_fixture_fails_with_its_message() {
    for case in CASES {
        let (err, source) = load_bad(case.file);
        let text = err.to_string();
        let path = fixture(&format!("bad/{}", case.file));
        for want in case.expect {
            assert!(
                text.contains(want),
                "{}: missing {want:?} in:\n{text}",
                case.file
            );
        }
        match case.at {
            Some(at) => {
                let (line, column) = position_of(&source, at);
                assert!(
                    matches!(err, ScenarioError::Syntax { .. }),
                    "{}: expected a syntax error, got:\n{text}",
                    case.file
                );
                assert_eq!(
                    err.line_column(),
                    Some((line, column)),
                    "{}:\n{text}",
                    case.file
                );
                let head = format!("error: {}:{line}:{column}: ", path.display());
                assert!(
                    text.starts_with(&head),
                    "{}: expected {head:?} in:\n{text}",
                    case.file
                );
                // The snippet shows the line and underlines the offending text.
                let shown = source.lines().nth(line - 1).unwrap_or_default().trim();
                assert!(
                    text.contains(shown),
                    "{}: snippet lacks {shown:?}:\n{text}",
                    case.file
                );
                let carets = text.lines().last().unwrap_or_default();
                assert!(
                    carets.trim_start_matches([' ', '|']).starts_with('^'),
                    "{text}"
                );
            }
            None => {
                assert!(
                    matches!(err, ScenarioError::Semantic { .. }),
                    "{}: expected a semantic error, got:\n{text}",
                    case.file
                );
                let n = err.diagnostics().len();
                let summary = format!("{n} error{}", if n == 1 { "" } else { "s" });
                assert_eq!(text.lines().last(), Some(summary.as_str()), "{text}");
                let prefix = format!("error: {}: ", path.display());
                let heads = text.lines().filter(|l| l.starts_with(&prefix)).count();
                assert_eq!(
                    heads, n,
                    "{}: one `error:` line per diagnostic:\n{text}",
                    case.file
                );
                if let Some(count) = case.count {
                    assert_eq!(n, count, "{}:\n{text}", case.file);
                }
            }
        }
    }
}

#[test]
fn every_fixture_has_a_case_and_every_case_a_fixture() {
    let files: Vec<String> = ron_files(&fixture("bad"))
        .iter()
        .map(|f| file_name(f))
        .collect();
    let cases: Vec<String> = CASES.iter().map(|c| c.file.to_owned()).collect();
    let mut sorted = cases.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), cases.len(), "a fixture is listed twice");
    assert_eq!(files, sorted, "tests/fixtures/bad/*.ron and CASES disagree");
}

/// Several problems in one file are all reported, in one error, with a count line.
#[test]
fn several_errors_are_reported_together() {
    let (err, _) = load_bad("several_errors.ron");
    let text = err.to_string();
    assert!(err.diagnostics().len() >= 5, "{text}");
    assert_eq!(
        text.lines().last(),
        Some(format!("{} errors", err.diagnostics().len()).as_str())
    );
}

/// A misspelled target is one problem and must be reported as one. Currently the unresolved
/// target falls back to component 0 (`scenarios/src/validate.rs`, `fn target`), so a client
/// whose target is misspelled is also said to send requests to itself and to close a cycle.
#[test]
fn an_unknown_target_is_reported_once() {
    let (err, _) = load_bad("misspelled_target.ron");
    assert_eq!(
        err.diagnostics().len(),
        1,
        "spurious follow-up errors:\n{err}"
    );
    let (err, _) = load_bad("several_errors.ron");
    assert_eq!(
        err.diagnostics().len(),
        5,
        "spurious follow-up errors:\n{err}"
    );
}

/// The "expected one of" hint for an unknown node lists each name once. Currently a
/// component's implicit node and the component itself are both listed
/// (`scenarios/src/validate.rs`, `node_ref`).
#[test]
fn unknown_node_hint_lists_each_candidate_once() {
    let (err, _) = load_bad("several_errors.ron");
    let hint = err
        .diagnostics()
        .iter()
        .find(|d| d.message.contains("`nowhere`"))
        .and_then(|d| d.hint.clone())
        .unwrap_or_else(|| panic!("no hint for `nowhere`:\n{err}"));
    let names: Vec<&str> = hint.split('`').skip(1).step_by(2).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "hint: {hint}");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = load_file(&fixture("bad/no_such_file.ron"), &[]).expect_err("missing file");
    assert!(matches!(err, ScenarioError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot read the scenario file"),
        "{err}"
    );
}

/// The loader returns `Ok` or `Err` for every prefix of every catalogue file (cut at char
/// boundaries, every seventh), and never panics; every error renders with a location.
#[test]
fn no_prefix_of_a_valid_file_panics() {
    for f in catalogue() {
        let text = read_text(&f);
        let cuts = text
            .char_indices()
            .map(|(i, _)| i)
            .step_by(7)
            .chain([text.len()]);
        let mut ok = 0;
        for cut in cuts {
            let prefix = &text[..cut];
            let outcome = std::panic::catch_unwind(|| {
                load::from_str::<Scenario>(prefix, Path::new("prefix.ron")).map(|_| ())
            });
            match outcome {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    let shown = e.to_string();
                    assert!(shown.starts_with("error: prefix.ron:"), "{shown}");
                    assert!(e.line_column().is_some(), "{shown}");
                }
                Err(_) => panic!(
                    "{}: the loader panicked on the first {cut} bytes",
                    file_name(&f)
                ),
            }
        }
        assert!(ok >= 1, "{}: not even the whole file loads", file_name(&f));
    }
}

/// `--set` errors name the bad segment, list what is available and suggest the nearest name.
#[test]
fn set_errors_suggest_the_nearest_name() {
    let mm1 = clustersim_tests::scenarios_dir().join("mm1.ron");
    let cases: &[(&str, &[&str])] = &[
        (
            "components.app.kind.wrokers=4",
            &[
                "--set: unknown `wrokers` in `components.app.kind`",
                "did you mean `workers`?",
            ],
        ),
        (
            "components.ap.kind.workers=4",
            &[
                "unknown `ap` in `components`",
                "`clients`, `app`",
                "did you mean `app`?",
            ],
        ),
        (
            "durration=5s",
            &[
                "unknown `durration` at the top level",
                "did you mean `duration`?",
            ],
        ),
        (
            "sweep.replicatons=2",
            &[
                "unknown `replicatons` in `sweep`",
                "did you mean `replications`?",
            ],
        ),
        (
            "components.app.kind.workers=many",
            &["invalid value `many` for `components.app.kind.workers`"],
        ),
        ("seed.x=1", &["cannot select `x` in `seed`"]),
        // Valid overrides that make the scenario invalid are reported like file errors.
        (
            "warmup=2m",
            &["warmup: warm-up 2m is not shorter than the run (2m)"],
        ),
    ];
    for (set, expect) in cases {
        let err = load_file(&mm1, &overrides(&[set]))
            .err()
            .unwrap_or_else(|| panic!("{set}: Ok"));
        let text = err.to_string();
        for want in *expect {
            assert!(
                text.contains(want),
                "--set {set}: missing {want:?} in:\n{text}"
            );
        }
        assert!(text.ends_with("1 error"), "{text}");
    }
    let no_equals = "duration".parse::<clustersim_scenarios::overrides::Override>();
    let msg = no_equals.expect_err("no `=`").to_string();
    assert!(msg.contains("expected `path=value`"), "{msg}");
}
