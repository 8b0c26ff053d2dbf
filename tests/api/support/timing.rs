//! Timing comparisons for the enumeration tests: paired medians and one tolerance.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// Median of the durations, in milliseconds.
pub fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// Time `rounds` alternating calls of `a` and `b` (alternating cancels drift from other load
/// on the machine); returns the two medians in milliseconds.
pub async fn paired_medians<FA, FB, A, B>(rounds: usize, mut a: FA, mut b: FB) -> (f64, f64)
where
    FA: FnMut() -> A,
    FB: FnMut() -> B,
    A: Future<Output = StatusCode>,
    B: Future<Output = StatusCode>,
{
    // Warm up both paths once (connection pool, code paths) before measuring.
    a().await;
    b().await;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        a().await;
        ta.push(t.elapsed());
        let t = Instant::now();
        b().await;
        tb.push(t.elapsed());
    }
    (median_ms(&mut ta), median_ms(&mut tb))
}

/// How far apart the two medians may be, either way.
pub const TIMING_FACTOR: f64 = 2.0;

/// Assert two medians are within [`TIMING_FACTOR`] (2×) of each other. Skipping the password
/// hash for one side gives a ratio near 0.04 (≈ 25× faster), far outside; with the whole suite
/// running in parallel on two shared cores the ratios measured 0.84–1.23, well inside.
pub fn assert_similar_timing(what: &str, existing_ms: f64, unknown_ms: f64) {
    let ratio = unknown_ms / existing_ms;
    assert!(
        (1.0 / TIMING_FACTOR..=TIMING_FACTOR).contains(&ratio),
        "{what}: existing {existing_ms:.1} ms vs unknown {unknown_ms:.1} ms (ratio {ratio:.2}, \
         allowed 1/{TIMING_FACTOR}..{TIMING_FACTOR})"
    );
}
