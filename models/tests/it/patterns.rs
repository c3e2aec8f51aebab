//! Microservice patterns: sagas against their closed forms and the invariant checker,
//! idempotent POST with per-server and shared key stores, CQRS projection lag against
//! M/D/1, strangler-fig routing against Erlang B, database per service versus a shared one.

use clustersim_engine::{ComponentId, Dist, SimDuration, WindowValue};
use clustersim_models::load_balancer::LoadBalancerConfig;
use clustersim_models::patterns::PatternConfig;
use clustersim_models::patterns::cqrs::{ReadModelConfig, WriteModelConfig};
use clustersim_models::patterns::idempotency::{
    IdemClientConfig, IdemServerConfig, KeyStoreConfig, KeyStoreMode, ResourceDbConfig,
};
use clustersim_models::patterns::saga::{
    ChoreographyRoute, ParticipantConfig, SagaConfig, SagaMode, commit_probability,
    expected_compensations,
};
use clustersim_models::patterns::strangler::{Rollback, RouteConfig, ShareStep, StranglerConfig};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::service::{Call, ServiceConfig};
use clustersim_models::workload::{OpMix, OpenLoopConfig, RateModulation, RetryPolicy};
use clustersim_models::{Op, workload};

use crate::common::{World, counter, hist_mean, hist_quantile, ms, secs, windows};

fn constant_ms(v: f64) -> Dist {
    Dist::constant(v * 1e6).unwrap()
}

fn writes_only(mut c: OpenLoopConfig) -> OpenLoopConfig {
    c.mix = OpMix {
        read: 0.0,
        write: 1.0,
        other: 0.0,
    };
    c
}

/// A saga of `n` participants failing with probability `p`, fed by a Poisson client at
/// `rate` for `run_s` seconds; the run lasts 3 s longer so every saga finishes.
struct SagaWorld {
    w: World,
    saga: ComponentId,
    participants: Vec<ComponentId>,
}

fn saga_world(mode: SagaMode, n: usize, p: f64, rate: f64, run_s: u64, seed: u64) -> SagaWorld {
    saga_world_logged(mode, n, p, rate, run_s, seed, SimDuration::ZERO)
}

/// [`saga_world`] with a log write time on the saga.
fn saga_world_logged(
    mode: SagaMode,
    n: usize,
    p: f64,
    rate: f64,
    run_s: u64,
    seed: u64,
    log_write: SimDuration,
) -> SagaWorld {
    let mut w = World::new(seed);
    // Ids are dense in insertion order: client 0, saga 1, participants 2..2+n.
    let saga = ComponentId(1);
    let participants: Vec<ComponentId> = (0..n).map(|i| ComponentId(2 + i as u32)).collect();
    let mut client = OpenLoopConfig::new(saga, rate);
    client.stop_after = Some(secs(run_s));
    w.add("client", ComponentConfig::OpenLoopClient(client));
    let mut cfg = SagaConfig::new(mode, participants.clone());
    cfg.log_write = log_write;
    assert_eq!(
        w.add("saga", ComponentConfig::Pattern(PatternConfig::Saga(cfg))),
        saga
    );
    for i in 0..n {
        let mut pc = ParticipantConfig::new(constant_ms(1.0));
        pc.failure_probability = p;
        if mode == SagaMode::Choreography {
            pc.routes.push(ChoreographyRoute {
                origin: saga,
                step: i as u16,
                prev: i.checked_sub(1).map(|j| participants[j]),
                next: participants.get(i + 1).copied(),
            });
        }
        let id = w.add(
            &format!("step{i}"),
            ComponentConfig::Pattern(PatternConfig::SagaParticipant(pc)),
        );
        assert_eq!(id, participants[i]);
    }
    SagaWorld {
        w,
        saga,
        participants,
    }
}

/// P(commit) = (1 − p)ⁿ and E[compensations] = q (1 − n qⁿ⁻¹ + (n − 1) qⁿ) / p (derived in
/// `saga::expected_compensations`), for both coordination styles.
///
/// n = 4, p = 0.1: P(commit) = 0.6561 and E[K] = 0.4707 compensations per saga. About
/// 12,000 sagas per run: the standard error of the commit fraction is
/// √(0.6561 · 0.3439 / 12000) ≈ 0.0043, and of the mean compensations √(Var K / N) with
/// Var K = E[K²] − E[K]² ≈ 0.91 (computed below), ≈ 0.0087. The bounds are 4 standard
/// errors (a false alarm about once in 16,000 runs; the seed is fixed anyway), tight
/// enough that an off-by-one step (p = 0.1 with n = 3 gives 0.729) fails by 17 errors.
#[test]
fn saga_commit_probability_and_compensations_match_the_closed_form() {
    let (n, p) = (4usize, 0.1);
    let q: f64 = 1.0 - p;
    let e_k2: f64 = (0..n).map(|k| (k * k) as f64 * p * q.powi(k as i32)).sum();
    let e_k = expected_compensations(n as u32, p);
    let var_k = e_k2 - e_k * e_k;
    for mode in [SagaMode::Orchestration, SagaMode::Choreography] {
        let sw = saga_world(mode, n, p, 1000.0, 12, 11);
        let (saga, parts) = (sw.saga, sw.participants.clone());
        let r = sw.w.run(SimDuration::ZERO, secs(15), None);
        let committed = counter(&r, saga, "committed") as f64;
        let compensated = counter(&r, saga, "compensated") as f64;
        let total = committed + compensated;
        assert_eq!(
            total as u64,
            counter(&r, saga, "arrivals"),
            "{mode:?}: unfinished sagas"
        );
        assert!(total > 11_000.0, "{mode:?}: {total}");
        let pc = commit_probability(n as u32, p);
        let se = (pc * (1.0 - pc) / total).sqrt();
        let frac = committed / total;
        eprintln!("{mode:?}: commit {frac:.4} vs {pc:.4} (se {se:.4})");
        assert!(
            (frac - pc).abs() < 4.0 * se,
            "{mode:?}: commit {frac} vs {pc}"
        );
        let comps: u64 = parts.iter().map(|&c| counter(&r, c, "compensations")).sum();
        let mean_k = comps as f64 / total;
        let se_k = (var_k / total).sqrt();
        eprintln!("{mode:?}: compensations {mean_k:.4} vs {e_k:.4} (se {se_k:.4})");
        assert!(
            (mean_k - e_k).abs() < 4.0 * se_k,
            "{mode:?}: {mean_k} vs {e_k}"
        );
        // The audit ran on every finished saga and found them all consistent.
        assert_eq!(counter(&r, saga, "audited") as f64, total, "{mode:?}");
        assert_eq!(counter(&r, saga, "invariant_violations"), 0, "{mode:?}");
        assert_eq!(counter(&r, saga, "stuck"), 0, "{mode:?}");
        // An inconsistent window opens for every saga whose step 0 succeeded: a fraction
        // 1 − p of them (binomial standard error √(p(1 − p)/N) ≈ 0.0027).
        let inconsistent = crate::common::hist_len(&r, saga, "inconsistent_ns") as f64 / total;
        let se_i = (p * (1.0 - p) / total).sqrt();
        assert!(
            (inconsistent - (1.0 - p)).abs() < 4.0 * se_i,
            "{mode:?}: {inconsistent}"
        );
    }
}

/// With retries, timeouts (work times beyond the step timeout) and failing compensations,
/// every saga still ends committed, compensated or stuck, and the audit finds no saga in a
/// mixed state; stuck sagas appear with the expected order of magnitude.
#[test]
fn saga_invariant_holds_under_retries_timeouts_and_failing_compensations() {
    for mode in [SagaMode::Orchestration, SagaMode::Choreography] {
        let mut w = World::new(5);
        let saga = ComponentId(1);
        let parts: Vec<ComponentId> = (0..3).map(|i| ComponentId(2 + i)).collect();
        let mut client = OpenLoopConfig::new(saga, 500.0);
        client.stop_after = Some(secs(6));
        w.add("client", ComponentConfig::OpenLoopClient(client));
        let mut cfg = SagaConfig::new(mode, parts.clone());
        cfg.step_timeout = ms(8);
        cfg.retry = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        cfg.compensation_retry.max_retries = 2;
        cfg.saga_timeout = Some(secs(5));
        w.add("saga", ComponentConfig::Pattern(PatternConfig::Saga(cfg)));
        for (i, &id) in parts.iter().enumerate() {
            // Mean 3 ms, so about e^(−8/3) ≈ 7 % of attempts outlast the 8 ms timeout.
            let mut pc = ParticipantConfig::new(Dist::exponential(3e6).unwrap());
            // Per attempt; with 2 retries a step fails for good with 0.4³ = 6.4 %.
            pc.failure_probability = 0.4;
            pc.compensation_failure_probability = 0.3;
            pc.retry.max_retries = 2;
            pc.compensation_retry.max_retries = 2;
            if mode == SagaMode::Choreography {
                pc.routes.push(ChoreographyRoute {
                    origin: saga,
                    step: i as u16,
                    prev: i.checked_sub(1).map(|j| parts[j]),
                    next: parts.get(i + 1).copied(),
                });
            }
            let got = w.add(
                &format!("p{i}"),
                ComponentConfig::Pattern(PatternConfig::SagaParticipant(pc)),
            );
            assert_eq!(got, id);
        }
        let r = w.run(SimDuration::ZERO, secs(10), None);
        let c = |n: &str| counter(&r, saga, n);
        let (arr, com, cmp, stuck) = (c("arrivals"), c("committed"), c("compensated"), c("stuck"));
        eprintln!(
            "{mode:?}: {arr} sagas: {com} committed, {cmp} compensated, {stuck} stuck, audited {}, timeouts {}",
            c("audited"),
            c("timeouts")
        );
        assert_eq!(com + cmp + stuck, arr, "{mode:?}");
        assert_eq!(c("audited"), com + cmp, "{mode:?}");
        assert_eq!(c("invariant_violations"), 0, "{mode:?}");
        // A compensation fails for good with probability 0.3³ = 2.7 %; with ~1 compensation
        // per aborted saga there must be some stuck sagas, but only a few percent.
        assert!(stuck > 0 && stuck * 20 < arr, "{mode:?}: {stuck} of {arr}");
        assert!(cmp > arr / 10, "{mode:?}");
        if mode == SagaMode::Orchestration {
            assert!(c("timeouts") > 0 && c("retries") > 0);
        }
        let fails: u64 = parts
            .iter()
            .map(|&p| counter(&r, p, "compensation_failures"))
            .sum();
        assert!(fails > 0);
    }
}

/// The checker can fail: participants that forget a saga before the audit (retention
/// shorter than `audit_delay`) report `None` for committed sagas, which the audit flags.
#[test]
fn saga_audit_flags_participants_that_lost_their_state() {
    // client 0, saga 1, p0 2, p1 3. p1 forgets a saga 10 ms after its last change (pruned
    // on its next message), long before the 1 s audit.
    let saga = ComponentId(1);
    let mut w = World::new(3);
    let mut client = OpenLoopConfig::new(saga, 200.0);
    client.stop_after = Some(secs(2));
    w.add("client", ComponentConfig::OpenLoopClient(client));
    let cfg = SagaConfig::new(
        SagaMode::Orchestration,
        vec![ComponentId(2), ComponentId(3)],
    );
    w.add("saga", ComponentConfig::Pattern(PatternConfig::Saga(cfg)));
    let keeper = ParticipantConfig::new(constant_ms(1.0));
    w.add(
        "p0",
        ComponentConfig::Pattern(PatternConfig::SagaParticipant(keeper)),
    );
    let mut forgetful = ParticipantConfig::new(constant_ms(1.0));
    forgetful.retention = ms(10);
    w.add(
        "p1",
        ComponentConfig::Pattern(PatternConfig::SagaParticipant(forgetful)),
    );
    let r = w.run(SimDuration::ZERO, secs(5), None);
    let committed = counter(&r, saga, "committed");
    let violations = counter(&r, saga, "invariant_violations");
    assert!(committed > 300, "{committed}");
    // Every audit after the first message that arrives ≥ 10 ms later finds the state gone;
    // only audits reaching p1 within 10 ms of its last change can still see `Done`.
    assert!(
        violations * 10 > committed * 9,
        "{violations} of {committed}"
    );
}

/// The orchestrator crashes with sagas in flight and recovers them from its log: every
/// saga still finishes, none is left in a mixed state.
#[test]
fn orchestrator_recovers_unfinished_sagas_from_its_log() {
    let mut sw = saga_world(SagaMode::Orchestration, 3, 0.05, 500.0, 6, 21);
    let saga = sw.saga;
    // Participants take 1 ms per step, so ~1.5 sagas are in flight at any time; a crash at
    // 2 s catches some mid-way. Clients time out on their lost answers.
    sw.w.crash_between(saga, secs(2), ms(2500));
    let r = sw.w.run(SimDuration::ZERO, secs(10), None);
    let c = |n: &str| counter(&r, saga, n);
    eprintln!(
        "recovered {} arrivals {} committed {} compensated {}",
        c("recovered"),
        c("arrivals"),
        c("committed"),
        c("compensated")
    );
    assert!(c("recovered") >= 1, "no saga was in flight at the crash");
    assert_eq!(
        c("committed") + c("compensated") + c("stuck"),
        c("arrivals")
    );
    assert_eq!(c("invariant_violations"), 0);
    assert_eq!(c("audited"), c("committed") + c("compensated"));
    // Requests sent while the coordinator was down were lost: about 500/s × 0.5 s.
    let client_requests = counter(&r, ComponentId(0), "requests");
    let lost = client_requests - c("arrivals");
    assert!((150..=350).contains(&lost), "{lost}");
}

/// Idempotent POST behind a round-robin balancer over 3 servers, with attempts timing out
/// (timeout 5 ms, inserts taking 2–8 ms) and 10 % double submits. Per-server key stores let
/// retries and duplicates that reach another server create a second resource; a shared
/// store catches every one of them (the checker: zero duplicates), answering 409s and
/// 200-replays instead, at the cost of its sync delay on every POST.
#[test]
fn shared_key_store_never_duplicates_and_per_server_stores_do() {
    let mut results = Vec::new();
    for shared in [false, true] {
        let mut w = World::new(8);
        // client 0, lb 1, servers 2..5, db 5, store 6
        let lb = ComponentId(1);
        let servers: Vec<ComponentId> = (2..5).map(ComponentId).collect();
        let (db, store) = (ComponentId(5), ComponentId(6));
        let mut client = IdemClientConfig::new(lb, 400.0, ms(5));
        client.double_submit_probability = 0.1;
        client.missing_key_probability = 0.01;
        client.retry.max_retries = 4;
        w.add(
            "client",
            ComponentConfig::Pattern(PatternConfig::IdempotentClient(client)),
        );
        w.add(
            "lb",
            ComponentConfig::LoadBalancer(LoadBalancerConfig::new(&servers)),
        );
        for (i, _) in servers.iter().enumerate() {
            let key_store = if shared {
                KeyStoreMode::Shared {
                    store,
                    timeout: ms(50),
                }
            } else {
                KeyStoreMode::Local
            };
            let cfg = IdemServerConfig {
                backend: db,
                key_store,
                transport: clustersim_engine::Transport::Stream,
            };
            w.add(
                &format!("s{i}"),
                ComponentConfig::Pattern(PatternConfig::IdempotentServer(cfg)),
            );
        }
        w.add(
            "db",
            ComponentConfig::Pattern(PatternConfig::ResourceDb(ResourceDbConfig {
                insert_time: Dist::uniform(2e6, 8e6).unwrap(),
                transport: clustersim_engine::Transport::Stream,
            })),
        );
        w.add(
            "store",
            ComponentConfig::Pattern(PatternConfig::IdempotencyStore(KeyStoreConfig {
                sync_delay: ms(1),
                transport: clustersim_engine::Transport::Stream,
            })),
        );
        let r = w.run(SimDuration::ZERO, secs(10), None);
        let client = ComponentId(0);
        let dups = counter(&r, db, "duplicates");
        let conflicts = counter(&r, client, "conflicts");
        let replays = counter(&r, client, "replays");
        let bad = counter(&r, client, "bad_requests");
        let key_check: f64 = servers
            .iter()
            .map(|&s| hist_mean(&r, s, "key_check_ns"))
            .sum::<f64>()
            / 3.0;
        let lat = hist_mean(&r, client, "latency_ns");
        eprintln!(
            "shared {shared}: duplicates {dups}, 409s {conflicts}, replays {replays}, 400s {bad}, key check {:.2} ms, latency {:.2} ms, ok {} failed {}",
            key_check / 1e6,
            lat / 1e6,
            counter(&r, client, "ok"),
            counter(&r, client, "failed")
        );
        // ~1 % of ~4000 requests carry no key: all refused with 400 (10 to 80 is ±5 σ).
        assert!((10..=80).contains(&bad), "{bad}");
        results.push((dups, conflicts, replays, key_check, lat));
    }
    let (local, shared) = (results[0], results[1]);
    assert!(local.0 > 100, "per-server stores: {} duplicates", local.0);
    assert_eq!(shared.0, 0, "the shared store let a duplicate through");
    assert!(
        shared.1 > 0 && shared.2 > 0,
        "no 409 or replay with a shared store"
    );
    // The extra latency of the shared store: at least its 1 ms sync delay per key check.
    assert!(
        local.3 == 0.0 && shared.3 >= 1e6,
        "{} {}",
        local.3,
        shared.3
    );
}

/// CQRS projection lag at steady load is an M/D/1 sojourn plus the projection delay: with
/// λ = 500 events/s, apply time 1 ms (ρ = 0.5) and delay 10 ms, mean lag =
/// 10 + 1 + ρ/(2μ(1 − ρ)) = 10 + 1 + 0.5 = 11.5 ms. ~10,000 events; the lag's standard
/// deviation is about 0.8 ms (M/D/1 waiting time), so its mean has a standard error below
/// 0.02 ms even allowing for correlation: ±0.3 ms is generous yet catches a lost delay or
/// apply time. A write burst at 3× the projector's throughput then builds a backlog: the
/// lag grows during the burst and recovers after it.
#[test]
fn cqrs_projection_lag_matches_md1_and_recovers_after_a_burst() {
    let build = |spike: bool| {
        let mut w = World::new(4);
        // writer 0, reader 1, write model 2, write db 3, read model 4
        let wm = ComponentId(2);
        let rm = ComponentId(4);
        let mut writer = writes_only(OpenLoopConfig::new(wm, 500.0));
        writer.keys = workload::KeyDist::Uniform { keys: 1000 };
        if spike {
            writer.modulation.push(RateModulation::Spike {
                start: secs(10),
                duration: secs(3),
                multiplier: 6.0,
            });
        }
        w.add("writer", ComponentConfig::OpenLoopClient(writer));
        let mut reader = OpenLoopConfig::new(rm, 1000.0);
        reader.mix = OpMix {
            read: 1.0,
            write: 0.0,
            other: 0.0,
        };
        reader.keys = workload::KeyDist::Uniform { keys: 1000 };
        w.add("reader", ComponentConfig::OpenLoopClient(reader));
        w.add(
            "write_model",
            ComponentConfig::Pattern(PatternConfig::CqrsWrite(WriteModelConfig::new(
                ComponentId(3),
                vec![rm],
            ))),
        );
        let mut db = ServiceConfig::new(constant_ms(0.2));
        db.workers = 4;
        w.add("write_db", ComponentConfig::Service(db));
        w.add(
            "read_model",
            ComponentConfig::Pattern(PatternConfig::CqrsRead(ReadModelConfig::new(ms(10), ms(1)))),
        );
        (w, rm)
    };
    let (w, rm) = build(false);
    let r = w.run(secs(2), secs(22), None);
    let lag = hist_mean(&r, rm, "projection_lag_ns") / 1e6;
    eprintln!("mean lag {lag:.3} ms");
    assert!((lag - 11.5).abs() < 0.3, "{lag}");
    let stale = counter(&r, rm, "stale_reads");
    let fresh = counter(&r, rm, "fresh_reads");
    // A read is stale when its key has an event in the ~11.5 ms pipeline: ≈ 1 − e^(−500 ×
    // 0.0115 / 1000) ≈ 0.57 % of reads.
    let frac = stale as f64 / (stale + fresh) as f64;
    assert!((0.003..0.009).contains(&frac), "{frac}");

    let (w, rm) = build(true);
    let r = w.run(SimDuration::ZERO, secs(24), Some(secs(1)));
    let p99: Vec<f64> = windows(&r, rm, "projection_lag_ns")
        .into_iter()
        .map(|(_, v)| match v {
            WindowValue::Histogram { p99, .. } => p99 as f64 / 1e6,
            other => panic!("{other:?}"),
        })
        .collect();
    eprintln!("p99 lag per second: {p99:?}");
    // 3000/s for 3 s against 1000/s: the backlog grows by 2000/s to ≈ 6000 events (≈ 6 s of
    // lag at the end of the burst), then drains at 1000 − 500 = 500/s, over ≈ 12 s: by the
    // last window (23 s) the lag must be well below its peak.
    let peak = p99.iter().cloned().fold(0.0, f64::max);
    assert!(peak > 4000.0, "peak lag {peak} ms");
    assert!(p99[5] < 20.0, "lag before the burst {}", p99[5]);
    assert!(p99[23] < peak / 2.0, "no recovery: {} vs {peak}", p99[23]);
    assert!(counter(&r, rm, "stale_reads") > 1000);
}

/// The strangler router sends the scheduled share of a route to the new service; the new
/// service here is an Erlang-loss station (1 worker, no queue, exponential 2 ms), so its
/// error rate is Erlang B: B(1, a) = a / (1 + a) with a = λ_new × 2 ms. At a share of 0.25
/// of 400/s, a = 0.2 and B = 0.1667; ~6000 requests on the new path give a standard error
/// of 0.005: ±0.02 is 4σ. With rollback at 10 % errors the route is rolled back in its first
/// window and the new path gets no traffic afterwards.
#[test]
fn strangler_share_follows_the_schedule_and_rollback_stops_a_bad_migration() {
    for rollback in [false, true] {
        let mut w = World::new(6);
        // client 0, router 1, legacy 2, new 3
        let router = ComponentId(1);
        let mut client = writes_only(OpenLoopConfig::new(router, 400.0));
        client.mix = OpMix {
            read: 0.5,
            write: 0.5,
            other: 0.0,
        };
        w.add("client", ComponentConfig::OpenLoopClient(client));
        let route = RouteConfig {
            route: Op::Write,
            target: ComponentId(3),
            schedule: vec![
                ShareStep {
                    at: SimDuration::ZERO,
                    share: 0.1,
                },
                ShareStep {
                    at: secs(5),
                    share: 0.5,
                },
            ],
            rollback: rollback.then_some(Rollback {
                window: secs(1),
                max_error_rate: 0.1,
                max_p99: None,
                min_requests: 20,
            }),
        };
        let cfg = StranglerConfig {
            legacy: ComponentId(2),
            routes: vec![route],
            timeout: None,
            transport: clustersim_engine::Transport::Stream,
        };
        w.add(
            "router",
            ComponentConfig::Pattern(PatternConfig::StranglerRouter(cfg)),
        );
        let mut legacy = ServiceConfig::new(Dist::exponential(2e6).unwrap());
        legacy.workers = 8;
        w.add("legacy", ComponentConfig::Service(legacy));
        let mut new = ServiceConfig::new(Dist::exponential(2e6).unwrap());
        new.queue_capacity = Some(0);
        w.add("new", ComponentConfig::Service(new));
        let r = w.run(SimDuration::ZERO, secs(30), Some(secs(1)));
        let c = |n: &str| counter(&r, router, n);
        let per_s = |n: &str| -> Vec<u64> {
            windows(&r, router, n)
                .into_iter()
                .map(|(_, v)| match v {
                    WindowValue::Counter(c) => c,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let new_req: u64 = per_s("requests@path=write_new")[5..].iter().sum();
        let legacy_req: u64 = per_s("requests@path=write_legacy")[5..].iter().sum();
        let new_err: u64 = per_s("errors@path=write_new")[5..].iter().sum();
        let reads = c("requests@path=legacy");
        if !rollback {
            // After 5 s the share is 0.5 of the writes (200/s): λ_new = 100/s, a = 0.2.
            let share = new_req as f64 / (new_req + legacy_req) as f64;
            assert!((share - 0.5).abs() < 0.02, "{share}");
            let err = new_err as f64 / new_req as f64;
            assert!((err - 0.2 / 1.2).abs() < 0.02, "error rate {err}");
            assert_eq!(c("errors@path=write_legacy"), 0);
            assert!(reads > 5000);
            assert_eq!(c("rollbacks@route=write"), 0);
        } else {
            // At a share of 0.1 the new path's error rate is B(1, 0.04) = 3.8 %: no rollback;
            // at 0.5 (from 5 s) it is 16.7 %, so the window ending at 6 s rolls back.
            assert_eq!(c("rollbacks@route=write"), 1);
            let after: u64 = per_s("requests@path=write_new")[6..].iter().sum();
            assert_eq!(after, 0, "traffic reached the new path after the rollback");
            assert!(per_s("requests@path=write_new")[..5].iter().sum::<u64>() > 50);
            assert!(legacy_req > 4000);
        }
    }
}

/// Database per service versus a shared database under a spike on service A: with a
/// shared store (one component, one capacity) B's latency suffers from A's spike; with a
/// database of its own it does not. Cross-service reads go through calls (own DBs) or a
/// second query on the shared store (a join).
#[test]
fn shared_database_couples_services_under_a_spike() {
    let run = |shared: bool| {
        let mut w = World::new(12);
        // client_a 0, client_b 1, a 2, b 3, db_a 4, db_b 5
        let mut ca = OpenLoopConfig::new(ComponentId(2), 150.0);
        ca.modulation.push(RateModulation::Spike {
            start: secs(4),
            duration: secs(4),
            multiplier: 3.0,
        });
        w.add("client_a", ComponentConfig::OpenLoopClient(ca));
        w.add(
            "client_b",
            ComponentConfig::OpenLoopClient(OpenLoopConfig::new(ComponentId(3), 150.0)),
        );
        let db_a = ComponentId(4);
        let db_b = if shared { db_a } else { ComponentId(5) };
        for (name, db) in [("a", db_a), ("b", db_b)] {
            let mut s = ServiceConfig::new(constant_ms(0.5));
            s.workers = 16;
            s.instances = 2;
            s.calls.push(Call {
                target: db,
                probability: 1.0,
                op: None,
            });
            w.add(name, ComponentConfig::Service(s));
        }
        // Each store: 2 workers of exponential 4 ms (capacity 500/s); the shared store is
        // just one of them serving both.
        for name in ["db_a", "db_b"] {
            let mut db = ServiceConfig::new(Dist::exponential(4e6).unwrap());
            db.workers = 2;
            w.add(name, ComponentConfig::Service(db));
        }
        let r = w.run(SimDuration::ZERO, secs(12), None);
        hist_quantile(&r, ComponentId(1), "latency_ns", 0.99) / 1e6
    };
    let own = run(false);
    let shared = run(true);
    eprintln!("B's p99 latency: own database {own:.1} ms, shared {shared:.1} ms");
    // Own: B's store at ρ = 0.3 keeps p99 around 20 ms. Shared: 450 + 150 = 600/s exceed
    // the store's 500/s during the spike and B's requests queue behind A's.
    assert!(own < 40.0, "{own}");
    assert!(shared > 5.0 * own, "{shared} vs {own}");
}

/// Rollback on latency alone: a new service that never fails but takes 80 ms (constant)
/// against a 50 ms p99 limit. Every answer on the new path is slow, so the first judged
/// window (≥ 20 answers: 10 % of 400 writes/s × 1 s ≈ 40) rolls the route back, while a
/// 100 ms limit never does (0 slow answers).
#[test]
fn strangler_rolls_back_on_p99_latency() {
    for (limit_ms, expect) in [(50, 1), (100, 0)] {
        let mut w = World::new(2);
        let router = ComponentId(1);
        w.add(
            "client",
            ComponentConfig::OpenLoopClient(writes_only(OpenLoopConfig::new(router, 400.0))),
        );
        let cfg = StranglerConfig {
            legacy: ComponentId(2),
            routes: vec![RouteConfig {
                route: Op::Write,
                target: ComponentId(3),
                schedule: vec![ShareStep {
                    at: SimDuration::ZERO,
                    share: 0.1,
                }],
                rollback: Some(Rollback {
                    window: secs(1),
                    max_error_rate: 0.5,
                    max_p99: Some(ms(limit_ms)),
                    min_requests: 20,
                }),
            }],
            timeout: None,
            transport: clustersim_engine::Transport::Stream,
        };
        w.add(
            "router",
            ComponentConfig::Pattern(PatternConfig::StranglerRouter(cfg)),
        );
        let mut legacy = ServiceConfig::new(constant_ms(1.0));
        legacy.workers = 8;
        w.add("legacy", ComponentConfig::Service(legacy));
        let mut new = ServiceConfig::new(constant_ms(80.0));
        new.workers = 64;
        w.add("new", ComponentConfig::Service(new));
        let r = w.run(SimDuration::ZERO, secs(5), None);
        assert_eq!(
            counter(&r, router, "rollbacks@route=write"),
            expect,
            "{limit_ms} ms"
        );
        assert_eq!(counter(&r, router, "errors@path=write_new"), 0);
        let new_req = counter(&r, router, "requests@path=write_new");
        if expect == 1 {
            // Rolled back at 1 s: only the first second's ≈ 40 requests took the new path.
            assert!((15..=70).contains(&new_req), "{new_req}");
        } else {
            assert!(new_req > 150, "{new_req}");
        }
    }
}

/// Timing with no failures, constant 1 ms steps and an ideal network: a saga of n steps
/// takes n ms end to end and is inconsistent from its first step's end to its last's,
/// (n − 1) ms, in both coordination styles (the choreography's step 0 reports its
/// completion to the origin at once). With a log write of 0.5 ms the orchestrator waits for
/// it before each of the n steps and before answering: n × 1.5 + 0.5 = 6.5 ms for n = 4,
/// inconsistent (n − 1) × 1.5 = 4.5 ms; the choreography's origin logs only the start and
/// the outcome: 0.5 + 4 + 0.5 = 5 ms, inconsistent 3 ms.
#[test]
fn saga_latency_and_inconsistent_window_are_exact_without_failures() {
    let half_ms = SimDuration::from_micros(500);
    for (mode, log_write, want_lat, want_inc) in [
        (SagaMode::Orchestration, SimDuration::ZERO, 4.0, 3.0),
        (SagaMode::Choreography, SimDuration::ZERO, 4.0, 3.0),
        (SagaMode::Orchestration, half_ms, 6.5, 4.5),
        (SagaMode::Choreography, half_ms, 5.0, 3.0),
    ] {
        let sw = saga_world_logged(mode, 4, 0.0, 100.0, 2, 1, log_write);
        let saga = sw.saga;
        let r = sw.w.run(SimDuration::ZERO, secs(3), None);
        assert!(counter(&r, saga, "committed") > 150);
        // HdrHistogram buckets: 3 significant digits, so ±0.1 %.
        let lat = hist_mean(&r, saga, "latency_ns") / 1e6;
        let inc = hist_mean(&r, saga, "inconsistent_ns") / 1e6;
        let at = format!("{mode:?} log write {log_write}");
        assert!((lat - want_lat).abs() < 0.01, "{at}: latency {lat}");
        assert!((inc - want_inc).abs() < 0.01, "{at}: inconsistent {inc}");
    }
}
