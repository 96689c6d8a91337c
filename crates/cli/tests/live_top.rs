//! `goscope top PID` on the leak fixture: the group of leaking goroutines is flagged, and its
//! measured growth rate is within 10% of the rate the fixture reports for itself (its own count
//! of leaked goroutines over time); parked goroutines that do not grow are not flagged.

mod core_common;
mod live_common;

use std::time::Instant;

use core_common::{goscope, toolchains};
use goscope_xtask::Variant;
use live_common::Live;
use serde_json::Value;

#[test]
fn top_flags_the_leak_and_measures_its_rate() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    for variant in [Variant::Default, Variant::Stripped] {
        let fx = core_common::fixture("live", &tc, variant, false);
        let live = Live::start(&fx, &["-leak", "25"]);
        let pid = live.pid.to_string();
        let (t0, l0) = (Instant::now(), live.progress().1);
        let (code, out, err) =
            goscope(&["top", "--json", "--count", "6", "--interval", "1s", &pid]);
        let (t1, l1) = (Instant::now(), live.progress().1);
        assert_eq!(code, 0, "{err}");
        // What the fixture says it did: goroutines leaked per second while top ran.
        let fixture_rate = (l1 - l0) as f64 / (t1 - t0).as_secs_f64();
        let samples: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(samples.len(), 6);
        let last = &samples[5];
        let leaks: Vec<&Value> = last["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["leak"] == true)
            .collect();
        assert_eq!(
            leaks.len(),
            1,
            "{}: exactly the leaking group is flagged: {leaks:#?}",
            fx.label()
        );
        let g = leaks[0];
        assert_eq!(g["function"], "main.leakOne", "{}", fx.label());
        let rate = g["rate_per_s"].as_f64().unwrap();
        assert!(
            (rate - fixture_rate).abs() <= 0.1 * fixture_rate,
            "{}: top measured {rate:.2}/s, the fixture leaked {fixture_rate:.2}/s",
            fx.label()
        );
        // Totals grow with the leak, sample after sample.
        let totals: Vec<u64> = samples
            .iter()
            .map(|s| s["total"].as_u64().unwrap())
            .collect();
        assert!(totals.windows(2).all(|w| w[1] > w[0]), "{totals:?}");
        // The parked goroutines are groups that do not grow.
        let parked = last["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| {
                g["frames"].as_array().is_some_and(|f| {
                    f.iter()
                        .any(|x| x.as_str().is_some_and(|x| x.starts_with("main.park")))
                })
            })
            .count();
        assert!(parked >= 8, "{parked} parked groups");
        live.assert_runs_untouched(&format!("{} after top", fx.label()));
    }
}

#[test]
fn top_text_view_marks_the_leak() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    let live = Live::start(&fx, &["-leak", "50"]);
    let pid = live.pid.to_string();
    let (code, out, err) = goscope(&["top", "--count", "4", "--interval", "300ms", &pid]);
    assert_eq!(code, 0, "{err}");
    let last = out.rsplit("goscope top:").next().unwrap();
    let leak = last
        .lines()
        .find(|l| l.contains("main.leakOne"))
        .unwrap_or_else(|| panic!("no leakOne row:\n{last}"));
    assert!(leak.contains("LEAK"), "{leak}");
    assert!(
        !out.contains("\x1b["),
        "no terminal escapes when not on a terminal"
    );
}
