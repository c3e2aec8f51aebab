//! Every scenario of the catalogue (`scenarios/*.ron`), shortened to a few simulated seconds:
//! it loads, plans, runs to the end, is deterministic, obeys Little's law, and is documented
//! in `scenarios/README.md`. The simulation cross-check of every worked capacity estimate
//! (`scenarios/estimates/*.ron`) runs through the same checks.

use std::path::PathBuf;

use clustersim_analysis::result::{ComponentRow, RunResult};
use clustersim_analysis::sweep::{self, Plan};
use clustersim_scenarios::{load_file, raw::Scenario};
use clustersim_tests::{
    catalogue, component_value, estimate_files, file_name, plan_estimate_short, plan_short,
    read_text, run_all, same_result, scenarios_dir, value_of,
};

/// Each catalogue file with its shortened plan; each worked estimate
/// (`scenarios/estimates/*.ron`) with its shortened simulation cross-check.
fn shortened() -> Vec<(PathBuf, Plan)> {
    catalogue()
        .into_iter()
        .map(|f| {
            let plan = plan_short(&f, &[]);
            (f, plan)
        })
        .chain(estimate_files().into_iter().map(|f| {
            let plan = plan_estimate_short(&f, &[]);
            (f, plan)
        }))
        .collect()
}

/// Unshortened, every file validates (every sweep point included), has a description, and
/// has a name of its own: `runs/<name>/` is the default output folder, so two scenarios with
/// one name would overwrite each other's reports.
#[test]
fn every_file_is_valid_as_written() {
    let mut names = std::collections::BTreeMap::new();
    for f in catalogue() {
        let loaded = load_file(&f, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !loaded.raw.description.is_empty(),
            "{}: no description",
            file_name(&f)
        );
        if let Some(other) = names.insert(loaded.raw.name.clone(), file_name(&f)) {
            panic!(
                "{} and {other} are both named `{}`",
                file_name(&f),
                loaded.raw.name
            );
        }
        sweep::plan(loaded.raw, &f, None, None).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_point_completes_and_is_deterministic() {
    let mut runs = 0;
    for (f, plan) in shortened() {
        let name = file_name(&f);
        assert!(!plan.points.is_empty(), "{name}: no points");
        assert_eq!(
            plan.replications, 1,
            "{name}: the shortening overrides did not apply"
        );
        for (p, r, seed) in plan.runs() {
            let point = &plan.points[p];
            assert_eq!(
                point.spec.duration.as_secs_f64(),
                6.0,
                "{name}: not shortened"
            );
            let first = sweep::run_one(point, r, seed);
            let second = sweep::run_one(point, r, seed);
            let at = format!("{name} point {p} replication {r} seed {seed}");
            assert_eq!(first.failure, None, "{at}: the run failed");
            assert!(first.events > 0, "{at}: no events");
            assert_eq!(first.digest.len(), 16, "{at}: digest {:?}", first.digest);
            assert_eq!(
                first.digest, second.digest,
                "{at}: same seed, different digest"
            );
            assert!(
                same_result(&first, &second),
                "{at}: same seed, different results"
            );
            assert!(
                value_of(&first.metrics, "requests") > 0.0,
                "{at}: no requests"
            );
            runs += 1;
        }
    }
    assert!(runs >= 5, "only {runs} runs");
}

/// Tolerance of the Little's law check, relative to `littles_law_l`.
const LITTLE_REL: f64 = 0.05;
/// Absolute slack of the Little's law check, in requests (for nearly idle services).
const LITTLE_ABS: f64 = 0.05;
/// Services with fewer completions in the measured window are not checked.
const LITTLE_MIN_COMPLETED: f64 = 1000.0;
/// Services whose population grew by more than this fraction of their completions during
/// the window are not in steady state and are not checked (see below).
const LITTLE_MAX_GROWTH: f64 = 0.01;

/// `(completed, net growth)` of a service over the measured window: accepted arrivals that
/// neither completed, failed nor were rejected.
fn growth(c: &ComponentRow) -> (f64, f64) {
    let completed = component_value(c, "completed");
    let grew = component_value(c, "requests")
        - completed
        - component_value(c, "errors")
        - component_value(c, "rejected");
    (completed, grew)
}

/// Little's law, L = λW, on every service of every catalogue scenario.
///
/// `in_system_avg` is the time average of the number of accepted, unanswered requests over
/// the measured window (after the warm-up); `littles_law_l` is the throughput over that same
/// window times the mean latency of the requests that finished in it. The two differ only by
/// edge terms: requests already in the service when the window opens contribute latency from
/// before it, and requests still inside when it closes contribute time but no latency. Each
/// edge holds about L requests with about W of time each, against a total of L·T, so for a
/// service in steady state the relative difference is O(W/T) = O(L / N_completed) — well
/// under 1 % here, so 5 % relative plus 0.05 requests absolute leaves a wide margin for
/// randomness without hiding a real bookkeeping error (a gauge off by one request, a latency
/// measured from the wrong instant, errors not counted).
///
/// That bound assumes steady state. A deliberately overloaded service (points 0 and 2 of
/// `monolith_vs_microservices`) has a queue that grows all through the window; then the
/// requests inside at the end are about `growth` in number with ages up to the latency, and
/// the relative difference is about `growth / completed` (observed: 12 % and 51 %). Such
/// services — net growth above 1 % of completions — are reported and skipped, and so are
/// services with fewer than 1000 completions.
#[test]
fn littles_law_holds_for_every_service() {
    let mut checked = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for (f, plan) in shortened() {
        let results: Vec<RunResult> = run_all(&plan);
        for r in &results {
            assert_eq!(r.failure, None, "{}: {:?}", file_name(&f), r.failure);
            for c in r.components.iter().filter(|c| c.kind == "service") {
                let at = format!("{} point {} `{}`", file_name(&f), r.point, c.component);
                let (completed, grew) = growth(c);
                if completed < LITTLE_MIN_COMPLETED {
                    skipped.push(format!("{at}: {completed} completions"));
                    continue;
                }
                if grew > LITTLE_MAX_GROWTH * completed {
                    skipped.push(format!("{at}: not in steady state (grew by {grew})"));
                    continue;
                }
                let measured = component_value(c, "in_system_avg");
                let predicted = component_value(c, "littles_law_l");
                let tolerance = LITTLE_REL * predicted + LITTLE_ABS;
                checked += 1;
                // Written so that a NaN on either side fails.
                let close = (measured - predicted).abs() <= tolerance;
                if !close {
                    failures.push(format!(
                        "{at}: in_system_avg {measured} vs littles_law_l {predicted} \
                         (tolerance {tolerance}, {completed} completions)"
                    ));
                }
            }
        }
    }
    for s in &skipped {
        eprintln!("Little's law not checked for {s}");
    }
    assert!(
        failures.is_empty(),
        "Little's law violated:\n{}",
        failures.join("\n")
    );
    // The catalogue has a dozen steady services; make sure the filters did not skip them all.
    assert!(
        checked >= 10,
        "only {checked} services checked; skipped:\n{}",
        skipped.join("\n")
    );
}

#[test]
fn every_file_is_listed_in_the_readme() {
    let readme = scenarios_dir().join("README.md");
    assert!(
        readme.is_file(),
        "{} does not exist: the catalogue needs a README listing every scenario file \
         ({} files: {})",
        readme.display(),
        catalogue().len(),
        catalogue()
            .iter()
            .map(|f| file_name(f))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let text = read_text(&readme);
    let missing: Vec<String> = catalogue()
        .iter()
        .chain(&estimate_files())
        .map(|f| file_name(f))
        .filter(|n| !text.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} does not mention these catalogue files: {}",
        readme.display(),
        missing.join(", ")
    );
}

/// What `check` prints can be read back: the pretty printer and the loader agree on every
/// catalogue file.
#[test]
fn every_file_round_trips_through_the_pretty_printer() {
    for f in catalogue() {
        let raw: Scenario =
            clustersim_scenarios::load::from_file(&f).unwrap_or_else(|e| panic!("{e}"));
        let text = clustersim_scenarios::load::to_pretty_ron(&raw);
        let back: Scenario = clustersim_scenarios::load::from_str(&text, &f).unwrap_or_else(|e| {
            panic!("{}: printed form does not load: {e}\n{text}", file_name(&f))
        });
        assert_eq!(back, raw, "{}", file_name(&f));
    }
}

/// Little's law on the microservice-pattern components (sagas, CQRS models, strangler
/// routers, idempotent servers, resource tables) of the `micro_*` scenarios, with the same
/// tolerance and filters as for services: their `in_system` gauges and `latency_ns`
/// histograms must account for every request they accept.
#[test]
fn littles_law_holds_for_pattern_components() {
    const KINDS: &[&str] = &[
        "saga",
        "cqrs_write",
        "cqrs_read",
        "strangler_router",
        "idempotent_server",
        "resource_db",
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (f, plan) in shortened()
        .into_iter()
        .filter(|(f, _)| file_name(f).starts_with("micro_"))
    {
        for r in &run_all(&plan) {
            for c in r
                .components
                .iter()
                .filter(|c| KINDS.contains(&c.kind.as_str()))
            {
                let (completed, grew) = growth(c);
                if completed < LITTLE_MIN_COMPLETED || grew > LITTLE_MAX_GROWTH * completed {
                    continue;
                }
                let measured = component_value(c, "in_system_avg");
                let predicted = component_value(c, "littles_law_l");
                let tolerance = LITTLE_REL * predicted + LITTLE_ABS;
                checked += 1;
                if (measured - predicted).abs() > tolerance || measured.is_nan() {
                    failures.push(format!(
                        "{} point {} `{}`: in_system_avg {measured} vs littles_law_l {predicted}",
                        file_name(&f),
                        r.point,
                        c.component
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 8, "only {checked} pattern components checked");
}
