//! The JAX reference (`muprop_jax.py --task sbn`), run as a child process on our protocol.

use std::error::Error;
use std::path::Path;
use std::process::Command;

/// What one reference run printed (its JSON line), in nats per image.
#[derive(Clone, Copy, Debug)]
pub struct ReferenceRun {
    /// ELBO averaged over 100 samples per validation image.
    pub elbo: f64,
    /// The `k`-sample bound on the validation images.
    pub bound: f64,
    /// Mean training ELBO over the last 100 steps.
    pub train_elbo: f64,
    /// Training examples per second (after its warm-up step).
    pub examples_per_s: f64,
}

/// The settings of one reference run.
pub struct Protocol<'a> {
    /// MNIST IDX directory.
    pub data: &'a Path,
    /// Stochastic layers (1 or 2).
    pub layers: u8,
    /// Training steps in all (one warm-up step, then `steps - 1` timed ones).
    pub steps: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// Adam `beta2` (ours: 0.999; the reference's default is 0.99999).
    pub beta2: f32,
    /// Validation images evaluated.
    pub eval: usize,
    /// Samples of the bound.
    pub k: usize,
    /// The reference's seed (initial parameters, minibatches, unit draws).
    pub seed: u64,
}

/// The exact command line of a reference run, for the report.
pub fn command_line(python: &Path, script: &Path, p: &Protocol) -> String {
    format!(
        "XLA_FLAGS=\"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1\" \
         {} {} {}",
        python.display(),
        script.display(),
        arguments(p).join(" ")
    )
}

fn arguments(p: &Protocol) -> Vec<String> {
    // The script's loop needs at least one warm-up step; it counts towards the steps.
    let pairs = [
        ("--task", String::from("sbn")),
        ("--n_layer", p.layers.to_string()),
        ("--n_hidden", String::from("200")),
        ("--batch_size", p.batch.to_string()),
        ("--lr", p.lr.to_string()),
        ("--beta2", p.beta2.to_string()),
        ("--warmup", String::from("1")),
        ("--steps", (p.steps.max(2) - 1).to_string()),
        ("--eval_n", p.eval.next_multiple_of(5).to_string()),
        ("--eval_samples", p.k.to_string()),
        ("--seed", p.seed.to_string()),
        ("--mnist", p.data.display().to_string()),
    ];
    pairs
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
}

/// Runs the reference once, single-threaded, and parses its JSON line.
pub fn run(python: &Path, script: &Path, p: &Protocol) -> Result<ReferenceRun, Box<dyn Error>> {
    let output = Command::new(python)
        .arg(script)
        .args(arguments(p))
        .env(
            "XLA_FLAGS",
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        )
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!("the JAX reference failed: {}", tail.join(" | ")).into());
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("the JAX reference printed no JSON line")?;
    Ok(ReferenceRun {
        elbo: field(line, "valid_1sample")?,
        bound: field(line, "valid_kbound")?,
        train_elbo: field(line, "train_obj_last100")?,
        examples_per_s: field(line, "examples_per_s")?,
    })
}

/// The number after `"key": ` in a flat JSON object.
fn field(json: &str, key: &str) -> Result<f64, Box<dyn Error>> {
    let pattern = format!("\"{key}\":");
    let start = json
        .find(&pattern)
        .ok_or_else(|| format!("no {key} in the reference's output"))?
        + pattern.len();
    let rest = json[start..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Ok(rest[..end].trim().parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_reads_numbers_of_a_flat_object() {
        let line = r#"{"impl": "jax", "valid_kbound": -101.5, "examples_per_s": 4556.3}"#;
        assert_eq!(field(line, "valid_kbound").ok(), Some(-101.5));
        assert_eq!(field(line, "examples_per_s").ok(), Some(4556.3));
        assert!(field(line, "valid_1sample").is_err());
    }
}
