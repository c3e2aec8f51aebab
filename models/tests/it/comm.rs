//! Communication styles ([`clustersim_models::comm`]): connection setup cost, push versus
//! polling, datagram versus stream media, peer-to-peer versus relay, gateway crashes.

use clustersim_engine::{
    ComponentId, Dist, Limits, LinkSpec, RunReport, SeriesTotal, SimBuilder, SimDuration, SimTime,
    Transport,
};
use clustersim_models::Cluster;
use clustersim_models::comm::{
    CommConfig, MediaClientConfig, MediaSourceConfig, PeerConfig, PollClientConfig,
    PollServerConfig, PublisherConfig, PushClientConfig, PushGatewayConfig, RelayConfig,
};
use clustersim_models::registry::{ComponentConfig, build};
use clustersim_models::service::ServiceConfig;
use clustersim_models::workload::{ClosedLoopConfig, Connection};

use crate::common::{World, counter, ms, secs, series};

fn constant_ms(n: u64) -> Dist {
    Dist::constant((n * 1_000_000) as f64).unwrap()
}

fn hist_mean_ms(r: &RunReport, c: ComponentId, name: &str) -> f64 {
    let h = r.metrics.histogram(series(&r.metrics, c, name)).unwrap();
    assert!(!h.is_empty(), "{name} of {c:?} is empty");
    h.mean() / 1e6
}

fn comm(c: CommConfig) -> ComponentConfig {
    ComponentConfig::Comm(c)
}

/// One closed-loop user against a 1 ms constant service, 10 ms one way: the latency is
/// exactly 2 × 10 + 1 = 21 ms with keep-alive and 21 + k × 20 ms with k setup round trips per
/// request (the histograms keep 3 significant digits: 0.1 % tolerance).
#[test]
fn per_request_connections_cost_exactly_their_handshake_round_trips() {
    let mut means = Vec::new();
    for rtts in [0, 1, 3] {
        let mut w = World::new(1);
        w.b.network().intra_region = LinkSpec::with_latency(constant_ms(10));
        let mut cfg = ClosedLoopConfig::new(ComponentId(1), 1, constant_ms(0));
        if rtts > 0 {
            cfg.connection = Connection::PerRequest {
                handshake_rtts: rtts,
            };
        }
        let client = w.add("client", ComponentConfig::ClosedLoopClient(cfg));
        w.add(
            "svc",
            ComponentConfig::Service(ServiceConfig::new(constant_ms(1))),
        );
        let r = w.run(SimDuration::ZERO, secs(10), None);
        assert!(counter(&r, client, "ok") > 100);
        means.push(hist_mean_ms(&r, client, "latency_ns"));
    }
    for (mean, rtts) in means.iter().zip([0.0, 1.0, 3.0]) {
        let expected = 21.0 + rtts * 20.0;
        assert!(
            (mean - expected).abs() <= expected * 1e-3,
            "{rtts} round trips: {mean} ms, expected {expected} ms"
        );
    }
}

/// Push delay is the one-way latency (25 ms, constant); polling every T = 1 s adds the wait
/// for the next poll, uniform in [0, T) for Poisson events: mean T/2 + 25 ms = 525 ms. About
/// 1200 events are delivered; the uniform wait has sd T/√12 ≈ 289 ms, but events between two
/// polls share one wait, so the effective sample is the ~60 s / T polls × clients: tolerance
/// 8 % (≈ 40 ms), several standard errors. Server load: 4 clients / T = 4 polls/s versus
/// 20 events/s × 4 connections = 80 pushes/s.
#[test]
fn push_delay_is_one_way_latency_and_polling_adds_half_the_interval() {
    let mut w = World::new(3);
    w.b.network().intra_region = LinkSpec::with_latency(constant_ms(25));
    let (gw, poller) = (ComponentId(1), ComponentId(2));
    w.add(
        "events",
        comm(CommConfig::Publisher(PublisherConfig::new(
            vec![gw, poller],
            20.0,
        ))),
    );
    // Publisher, gateway and poll server share a node: zero latency between them.
    let node = w.b.names().component_node[0];
    for (name, cfg) in [
        (
            "gw",
            comm(CommConfig::PushGateway(PushGatewayConfig::new())),
        ),
        (
            "poller",
            comm(CommConfig::PollServer(PollServerConfig::new())),
        ),
    ] {
        let id = w.b.next_component_id();
        let c = build(&cfg, id, w.b.metrics());
        w.b.add_component(node, name, c);
    }
    let mut pushers = Vec::new();
    let mut pollers = Vec::new();
    for i in 0..4 {
        pushers.push(w.add(
            &format!("push-{i}"),
            comm(CommConfig::PushClient(PushClientConfig::new(gw))),
        ));
        pollers.push(w.add(
            &format!("poll-{i}"),
            comm(CommConfig::PollClient(PollClientConfig::new(
                poller,
                secs(1),
            ))),
        ));
    }
    let r = w.run(secs(5), secs(65), None);
    for &c in &pushers {
        let d = hist_mean_ms(&r, c, "latency_ns");
        assert!((d - 25.0).abs() < 0.05, "push delay {d} ms");
        assert_eq!(counter(&r, c, "pushes_missed"), 0);
    }
    let mut sum = 0.0;
    for &c in &pollers {
        sum += hist_mean_ms(&r, c, "latency_ns");
        assert_eq!(counter(&r, c, "notifications_missed"), 0);
    }
    let poll_delay = sum / pollers.len() as f64;
    assert!(
        (poll_delay - 525.0).abs() < 0.08 * 525.0,
        "poll delay {poll_delay} ms, expected ≈ 525 ms"
    );
    let polls = counter(&r, poller, "arrivals") as f64 / 60.0;
    assert!((polls - 4.0).abs() < 0.1, "{polls} polls/s");
    let pushes = counter(&r, gw, "pushes_sent") as f64 / 60.0;
    assert!((pushes - 80.0).abs() < 80.0 * 0.15, "{pushes} pushes/s");
}

/// Media at 60 chunks/s for 100 s (6000 chunks) over a 5 % lossy link: over datagrams the
/// lost fraction is binomial, mean 300 and sd √(6000 · 0.05 · 0.95) ≈ 16.9, tolerance ± 4 sd;
/// the stream loses nothing, never reorders, and pays with late chunks instead.
#[test]
fn datagram_loses_about_the_configured_fraction_and_stream_delivers_everything_in_order() {
    let mut w = World::new(5);
    let mut link = LinkSpec::with_latency(constant_ms(20));
    link.loss = 0.05;
    link.jitter = ms(5);
    w.b.network().intra_region = link;
    let (udp_rx, tcp_rx) = (ComponentId(2), ComponentId(3));
    let mut udp = MediaSourceConfig::new(udp_rx, 60.0);
    udp.transport = Transport::Datagram;
    let mut tcp = MediaSourceConfig::new(tcp_rx, 60.0);
    tcp.transport = Transport::Stream;
    let udp_src = w.add("udp-src", comm(CommConfig::MediaSource(udp)));
    let tcp_src = w.add("tcp-src", comm(CommConfig::MediaSource(tcp)));
    let rx = MediaClientConfig::new(ms(100));
    w.add("udp-rx", comm(CommConfig::MediaClient(rx.clone())));
    w.add("tcp-rx", comm(CommConfig::MediaClient(rx)));
    let r = w.run(SimDuration::ZERO, secs(100) + ms(2_500), None);
    // Chunks sent in the last 2.5 s are not all classified yet; count those sent before.
    let sent = counter(&r, udp_src, "chunks_sent");
    assert_eq!(sent, counter(&r, tcp_src, "chunks_sent"));
    let lost = counter(&r, udp_rx, "chunks_lost") as f64;
    assert!(
        (lost - 300.0).abs() <= 4.0 * 16.9,
        "datagram lost {lost} of ~6000"
    );
    assert_eq!(counter(&r, udp_rx, "chunks_late"), 0, "20-25 ms < 100 ms");
    assert_eq!(counter(&r, tcp_rx, "chunks_lost"), 0);
    assert_eq!(counter(&r, tcp_rx, "chunks_reordered"), 0);
    assert_eq!(counter(&r, tcp_rx, "chunks_duplicate"), 0);
    let tcp_arrived = counter(&r, tcp_rx, "chunks_on_time") + counter(&r, tcp_rx, "chunks_late");
    assert!(
        tcp_arrived + 150 >= sent && tcp_arrived <= sent,
        "stream delivered {tcp_arrived} of {sent}"
    );
    // Every stream loss costs >= 200 ms of retransmission: at least the lost chunk is late.
    assert!(
        counter(&r, tcp_rx, "chunks_late") as f64 >= 0.5 * lost,
        "late {}",
        counter(&r, tcp_rx, "chunks_late")
    );
}

/// Alice in `eu`, Bob in `asia`, relay in `us`: direct 80 ms, relayed 40 + 60 = 100 ms
/// (constant latencies, no loss: exact up to the histogram's 0.1 %). The relay forwards every
/// frame of the relayed pair and carries its bytes.
#[test]
fn peer_to_peer_is_faster_than_a_relay_in_a_third_region() {
    let mut b = SimBuilder::<Cluster>::new(9);
    let (eu, us, asia) = (b.add_region("eu"), b.add_region("us"), b.add_region("asia"));
    let (alice, bob, turn) = (
        b.add_node("alice", eu),
        b.add_node("bob", asia),
        b.add_node("turn", us),
    );
    for (x, y, l) in [(eu, us, 40), (us, asia, 60), (eu, asia, 80)] {
        b.network()
            .region_links
            .push((x, y, LinkSpec::with_latency(constant_ms(l)), true));
    }
    let relay = ComponentId(4);
    let peer = |to: u32, via: Option<ComponentId>| {
        let mut c = PeerConfig::new(ComponentId(to), 50.0);
        c.relay = via;
        c.frame_size = 1000;
        comm(CommConfig::Peer(c))
    };
    let parts = [
        (alice, "alice-p2p", peer(1, None)),
        (bob, "bob-p2p", peer(0, None)),
        (alice, "alice-turn", peer(3, Some(relay))),
        (bob, "bob-turn", peer(2, Some(relay))),
        (turn, "relay", comm(CommConfig::Relay(RelayConfig::new()))),
    ];
    for (node, name, cfg) in parts {
        cfg.validate().unwrap();
        let id = b.next_component_id();
        let c = build(&cfg, id, b.metrics());
        b.add_component(node, name, c);
    }
    let r = b
        .build()
        .unwrap()
        .run_to_report(Limits::new(SimTime::ZERO + secs(20), 10_000_000));
    let direct = hist_mean_ms(&r, ComponentId(0), "latency_ns");
    let relayed = hist_mean_ms(&r, ComponentId(2), "latency_ns");
    assert!((direct - 80.0).abs() < 0.1, "{direct}");
    assert!((relayed - 100.0).abs() < 0.1, "{relayed}");
    assert!(direct < relayed);
    let forwarded = counter(&r, relay, "completed");
    let sent = counter(&r, ComponentId(2), "requests") + counter(&r, ComponentId(3), "requests");
    assert!(
        forwarded <= sent && forwarded + 20 >= sent,
        "{forwarded} / {sent}"
    );
    assert_eq!(counter(&r, relay, "relay_bytes"), forwarded * 1000);
}

/// The gateway crashes at 10 s for 2 s: each client notices at a ping (1 s heartbeat),
/// reconnects with backoff once the gateway is back, and counts the events published
/// meanwhile (5/s × ≥ 2 s) as missed. A gateway with room for 3 refuses the others.
#[test]
fn clients_reconnect_after_a_gateway_crash_and_count_missed_pushes() {
    let mut w = World::new(13);
    w.b.network().intra_region = LinkSpec::with_latency(constant_ms(5));
    let gw = ComponentId(1);
    let mut pcfg = PublisherConfig::new(vec![gw], 5.0);
    pcfg.poisson = false;
    w.add("events", comm(CommConfig::Publisher(pcfg)));
    let mut gcfg = PushGatewayConfig::new();
    gcfg.max_connections = 3;
    w.add("gw", comm(CommConfig::PushGateway(gcfg)));
    let clients: Vec<ComponentId> = (0..4)
        .map(|i| {
            let mut c = PushClientConfig::new(gw);
            c.handshake_rtts = 1;
            w.add(&format!("c{i}"), comm(CommConfig::PushClient(c)))
        })
        .collect();
    w.crash_between(gw, secs(10), secs(12));
    let r = w.run(SimDuration::ZERO, secs(30), None);
    let mut connected = 0;
    let mut rejected = 0;
    for &c in &clients {
        let reconnects = counter(&r, c, "reconnects");
        if counter(&r, c, "pushes_delivered") > 0 {
            connected += 1;
        }
        rejected += counter(&r, c, "connects_rejected");
        if counter(&r, c, "disconnects") > 0 {
            assert_eq!(reconnects, counter(&r, c, "disconnects"));
            let missed = counter(&r, c, "pushes_missed");
            assert!((10..=40).contains(&missed), "{c:?} missed {missed}");
            let t = hist_mean_ms(&r, c, "reconnect_ns");
            assert!(t > 1000.0 && t < 12_000.0, "time to reconnect {t} ms");
        }
    }
    assert!(connected >= 3, "{connected}");
    assert!(
        rejected > 0,
        "the fourth client must have been refused at least once"
    );
    let max = match &r.metrics.totals[series(&r.metrics, gw, "connections").index()] {
        SeriesTotal::Gauge { max, .. } => *max,
        other => panic!("{other:?}"),
    };
    assert_eq!(max, 3, "connections are capped at max_connections");
    let total_reconnects: u64 = clients.iter().map(|&c| counter(&r, c, "reconnects")).sum();
    assert!(total_reconnects >= 3, "{total_reconnects}");
}
