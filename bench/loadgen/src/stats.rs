//! Latencies gathered and summarised.

use std::time::Duration;

/// What a phase measured.
#[derive(Debug, Default)]
pub struct Summary {
    /// Each answered request's latency, microseconds.
    pub micros: Vec<u32>,
    /// Failed requests (connection errors, non-2xx answers).
    pub errors: u64,
    /// Requests sent more than 1 ms after their slot.
    pub late: u64,
    /// Length of the phase.
    pub seconds: f64,
}

impl Summary {
    /// Records one answered request.
    pub fn answered(&mut self, latency: Duration) {
        self.micros
            .push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    /// Adds another connection's figures.
    pub fn merge(&mut self, other: Summary) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        self.late += other.late;
    }

    /// The `p`-th percentile (0–100) in milliseconds; 0 when nothing was answered.
    pub fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        // Less a hair, so that 99.9% of 1,000 is rank 999 despite 0.999 * 1000 landing
        // a little above 999 in floating point.
        let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
    }

    /// The result line.
    pub fn json(&self, label: &str) -> String {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let p = |q| Self::percentile_ms(&sorted, q);
        let requests = sorted.len();
        serde_json::json!({
            "label": label,
            "requests": requests,
            "seconds": self.seconds,
            "rps": requests as f64 / self.seconds.max(f64::MIN_POSITIVE),
            "p50_ms": p(50.0),
            "p90_ms": p(90.0),
            "p99_ms": p(99.0),
            "p999_ms": p(99.9),
            "max_ms": sorted.last().map_or(0.0, |m| *m as f64 / 1000.0),
            "errors": self.errors,
            "late": self.late,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u32> = (1..=1000).collect();
        assert_eq!(Summary::percentile_ms(&sorted, 50.0), 0.5);
        assert_eq!(Summary::percentile_ms(&sorted, 99.0), 0.99);
        assert_eq!(Summary::percentile_ms(&sorted, 99.9), 0.999);
        assert_eq!(Summary::percentile_ms(&sorted, 100.0), 1.0);
        assert_eq!(Summary::percentile_ms(&[], 50.0), 0.0);
        let mut s = Summary {
            seconds: 2.0,
            ..Summary::default()
        };
        s.answered(Duration::from_micros(300));
        s.merge(Summary {
            errors: 1,
            late: 2,
            ..Summary::default()
        });
        let v: serde_json::Value = serde_json::from_str(&s.json("x")).expect("json");
        assert_eq!(
            (
                v["requests"].as_u64(),
                v["errors"].as_u64(),
                v["late"].as_u64()
            ),
            (Some(1), Some(1), Some(2))
        );
        assert_eq!(v["p50_ms"].as_f64(), Some(0.3));
        assert_eq!(v["rps"].as_f64(), Some(0.5));
    }
}
