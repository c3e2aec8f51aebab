//! Cross-crate integration tests.
mod scratch {
    use clustersim_tests::*;
    #[test]
    fn print_littles() {
        for f in catalogue() {
            let plan = plan_short(&f, &[]);
            for r in run_all(&plan) {
                for c in r.components.iter().filter(|c| c.kind == "service") {
                    let g = component_value(c, "requests") - component_value(c, "completed") - component_value(c, "errors")- component_value(c, "rejected");
                    let l = component_value(c, "in_system_avg"); let p = component_value(c, "littles_law_l");
                    println!("{} p{} {:10} done={:8} growth={g} rel={:.4} L={l:.3} lw={p:.3} relerr={:.4}", file_name(&f), r.point, c.component, component_value(c, "completed"), g / component_value(c, "completed"), (l-p).abs()/p);
                }
            }
        }
    }
}
