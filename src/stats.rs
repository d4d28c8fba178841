//! What the store did, what it skipped, and what DynamoDB billed for it
//! (ConsumedCapacity, requested on every call the wire sends).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Stats {
    pub gets: AtomicU64,
    pub sets: AtomicU64,
    pub touches: AtomicU64,
    pub destroys: AtomicU64,
    /// Touches and unchanged saves that wrote nothing (touchAfter).
    pub skipped_writes: AtomicU64,
    /// Unchanged saves sent as a touch instead of a whole item.
    pub downgraded_sets: AtomicU64,
    /// Attempts that repeated a call after a throttle or a transient fault.
    pub retries: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
}

impl Stats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read_units(&self, units: Option<f64>) {
        Self::add(&self.read_milli_units, units);
    }

    pub fn write_units(&self, units: Option<f64>) {
        Self::add(&self.write_milli_units, units);
    }

    fn add(total: &AtomicU64, units: Option<f64>) {
        let units = units.unwrap_or(0.0);
        if units.is_finite() && units > 0.0 {
            total.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    pub fn read_capacity_units(&self) -> f64 {
        self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn write_capacity_units(&self) -> f64 {
        self.write_milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn load(counter: &AtomicU64) -> f64 {
        counter.load(Ordering::Relaxed) as f64
    }
}
