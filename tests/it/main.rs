//! Cross-crate integration tests.
mod scratch {
    use clustersim_tests::*;
    #[test]
    fn print_errors() {
        for f in ron_files(&fixture("bad")) {
            let e = clustersim_scenarios::load_file(&f, &[]).unwrap_err();
            println!("===== {}\n{e}\n", file_name(&f));
        }
        for s in ["components.app.kind.wrokers=4", "components.ap.kind.workers=4", "sweep.replicatons=2", "components.app.kind.workers=abc", "durration=5s"] {
            let e = clustersim_scenarios::load_file(&scenarios_dir().join("mm1.ron"), &overrides(&[s])).unwrap_err();
            println!("===== {s}\n{e}\n");
        }
    }
}
