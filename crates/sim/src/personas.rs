//! Synthetic persona panels (SPEC §6 `persona_panel`): archetypes with within-archetype spread,
//! heavy-tailed intensity, and a share of near-lexicographic personas.

use crate::{Population, SimError, err};
use rand::RngExt;
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use std::sync::Arc;

/// How synthetic personas are generated.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaSpec {
    /// Number of personas R.
    pub count: usize,
    /// Archetype coefficient vectors (each of length d); persona r follows archetype r mod K.
    pub archetypes: Vec<Vec<f64>>,
    /// Within-archetype spread: independent N(0, spread²) added to each coefficient.
    pub spread: f64,
    /// Intensity: the persona's vector is multiplied by exp(σ g − σ²/2), g ~ N(0, 1)
    /// (log-normal, mean 1, heavy right tail).
    pub intensity_sigma: f64,
    /// Share of near-lexicographic personas: one attribute, chosen at random, is multiplied by
    /// `lexicographic_factor` so that it dominates.
    pub lexicographic_share: f64,
    pub lexicographic_factor: f64,
}

impl PersonaSpec {
    /// Draws the personas from the stream `(seed, "signest/personas", 0)`: the same spec and
    /// seed always give the same panel.
    pub fn generate(&self, seed: u64) -> Result<Population, SimError> {
        let d = self.archetypes.first().map_or(0, |a| a.len());
        if self.count == 0 || d == 0 || self.archetypes.iter().any(|a| a.len() != d) {
            return err("personas: need count >= 1 and archetypes of one common length d >= 1");
        }
        if !(self.spread >= 0.0
            && self.intensity_sigma >= 0.0
            && (0.0..=1.0).contains(&self.lexicographic_share)
            && self.lexicographic_factor > 0.0)
        {
            return err(
                "personas: spread >= 0, intensity_sigma >= 0, 0 <= lexicographic_share <= 1 and lexicographic_factor > 0 are required",
            );
        }
        let mut rng = signest_core::seed::stream(seed, "signest/personas", 0);
        let mut betas = Vec::with_capacity(self.count * d);
        for r in 0..self.count {
            let a = &self.archetypes[r % self.archetypes.len()];
            let mut b: Vec<f64> = a
                .iter()
                .map(|x| {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    x + self.spread * g
                })
                .collect();
            let lex = rng.random::<f64>() < self.lexicographic_share;
            let j = rng.random_range(0..d);
            if lex {
                b[j] *= self.lexicographic_factor;
            }
            let g: f64 = StandardNormal.sample(&mut rng);
            let s = (self.intensity_sigma * g - 0.5 * self.intensity_sigma.powi(2)).exp();
            b.iter_mut().for_each(|x| *x *= s);
            betas.extend(b);
        }
        let p = Population::Personas {
            d,
            betas: Arc::new(betas),
        };
        p.validate()?;
        Ok(p)
    }
}
