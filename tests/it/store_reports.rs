//! `visibility.csv`: the t-visibility curve of replicated stores, built from the catalogue's
//! quorum sweep (shortened) — strict quorums see every acknowledged write in every bucket.

use clustersim_analysis::report::visibility_csv;
use clustersim_tests::{plan_short, run_all, scenarios_dir};

#[test]
fn visibility_csv_has_one_row_per_bucket_and_strict_quorums_are_always_fresh() {
    let plan = plan_short(&scenarios_dir().join("store_quorum_sweep.ron"), &[]);
    let results = run_all(&plan);
    let bytes = visibility_csv(&plan, &results)
        .unwrap()
        .expect("a store scenario has visibility rows");
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("scenario,point,replication,seed,")
            && header.ends_with(",component,dt_ms,reads,fresh,p_visible"),
        "{header}"
    );
    let mut rows = 0;
    let mut strict_reads = 0.0;
    let mut sloppy_misses = 0.0;
    for line in lines {
        // The last five fields hold no commas; the point is the second field.
        let tail: Vec<&str> = line.rsplitn(6, ',').collect();
        let (pv, f, n, dt, comp) = (tail[0], tail[1], tail[2], tail[3], tail[4]);
        assert_eq!(comp, "db");
        let (n, f, pv): (f64, f64, f64) =
            (n.parse().unwrap(), f.parse().unwrap(), pv.parse().unwrap());
        assert!(f <= n, "{line}");
        if n > 0.0 {
            assert!((pv - f / n).abs() < 1e-9, "{line}");
        }
        // Points 3, 4, 5 are (r, w) = (2, 2), (3, 1), (1, 3): r + w > n.
        let pt: usize = line.split(',').nth(1).unwrap().parse().unwrap();
        if pt >= 3 {
            assert_eq!(f, n, "strict quorum missed a write: {line}");
            strict_reads += n;
        } else {
            sloppy_misses += n - f;
        }
        let _: u64 = dt.parse().unwrap();
        rows += 1;
    }
    // Six points × 13 default buckets.
    assert_eq!(rows, 6 * 13);
    assert!(strict_reads > 10_000.0, "{strict_reads}");
    assert!(sloppy_misses > 0.0, "sloppy quorums never missed a write");
}

#[test]
fn no_visibility_csv_without_a_store() {
    let plan = plan_short(&scenarios_dir().join("mm1.ron"), &[]);
    let results = run_all(&plan);
    assert!(visibility_csv(&plan, &results).unwrap().is_none());
}
