//! The structured-prediction task: predict the bottom half of an image from its top half.
//!
//! An image of `H x W` pixels, stored row-major, splits into its first `H / 2` rows
//! (`H / 2 * W` values, the input) and the remaining rows (the target): 32 -> 32 for the 8x8
//! digits, 392 -> 392 for 28x28 MNIST. Both halves are meant to be binarized first (see
//! [`DataSet::binarized`]); the task records the binarization it was made from.

use std::string::String;
use std::vec::Vec;

use super::binarize::Binarization;
use super::error::DataError;
use super::hash::Fnv1a;
use super::split::{column_means, rows_of, DataSet, Split};

/// The top `height / 2` rows of a row-major `height x width` image, and the rest.
///
/// # Errors
///
/// [`DataError::WidthMismatch`] when `image.len()` is not `height * width`.
pub fn split_halves(
    image: &[f32],
    height: usize,
    width: usize,
) -> Result<(&[f32], &[f32]), DataError> {
    let mismatch = DataError::WidthMismatch {
        what: "image",
        width: image.len(),
        requested: height.saturating_mul(width),
    };
    if height.checked_mul(width) != Some(image.len()) {
        return Err(mismatch);
    }
    image.split_at_checked(height / 2 * width).ok_or(mismatch)
}

/// One split of the task: inputs (top halves) and targets (bottom halves) as contiguous rows.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionSplit {
    inputs: Vec<f32>,
    targets: Vec<f32>,
    labels: Vec<u8>,
    input_width: usize,
    target_width: usize,
}

impl PredictionSplit {
    /// The top and bottom halves of every image of `split`.
    ///
    /// # Cost
    ///
    /// One copy of the split's pixels.
    pub fn from_split(split: &Split) -> Self {
        let input_width = split.height() / 2 * split.width();
        let target_width = split.pixels_per_image() - input_width;
        let mut inputs = Vec::with_capacity(split.len() * input_width);
        let mut targets = Vec::with_capacity(split.len() * target_width);
        for image in split.pixels().chunks_exact(split.pixels_per_image().max(1)) {
            let (top, bottom) = image.split_at(input_width);
            inputs.extend_from_slice(top);
            targets.extend_from_slice(bottom);
        }
        let labels = split.labels().to_vec();
        Self {
            inputs,
            targets,
            labels,
            input_width,
            target_width,
        }
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per input row (`H / 2 * W`).
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    /// Values per target row (`(H - H / 2) * W`).
    pub fn target_width(&self) -> usize {
        self.target_width
    }

    /// Every input row, one after another.
    pub fn inputs_flat(&self) -> &[f32] {
        &self.inputs
    }

    /// Every target row, one after another.
    pub fn targets_flat(&self) -> &[f32] {
        &self.targets
    }

    /// The class label of each example (not used by the task; kept for analysis).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The inputs as rows of `N` values.
    ///
    /// # Errors
    ///
    /// [`DataError::WidthMismatch`] when `N` is not [`input_width`](Self::input_width).
    pub fn inputs<const N: usize>(&self) -> Result<&[[f32; N]], DataError> {
        rows_of(&self.inputs, self.input_width, "inputs")
    }

    /// The targets as rows of `N` values.
    ///
    /// # Errors
    ///
    /// [`DataError::WidthMismatch`] when `N` is not [`target_width`](Self::target_width).
    pub fn targets<const N: usize>(&self) -> Result<&[[f32; N]], DataError> {
        rows_of(&self.targets, self.target_width, "targets")
    }

    /// Each input value's mean over the examples (zeros for an empty split).
    pub fn input_means(&self) -> Vec<f32> {
        column_means(&self.inputs, self.input_width)
            .into_iter()
            .map(|m| m as f32)
            .collect()
    }

    /// The split with `centre` subtracted from every input row; targets and labels unchanged.
    ///
    /// # Errors
    ///
    /// [`DataError::WidthMismatch`] when `centre` is not one value per input.
    pub fn centred(&self, centre: &[f32]) -> Result<Self, DataError> {
        if centre.len() != self.input_width {
            return Err(DataError::WidthMismatch {
                what: "input centre",
                width: self.input_width,
                requested: centre.len(),
            });
        }
        let mut out = self.clone();
        for row in out.inputs.chunks_exact_mut(self.input_width.max(1)) {
            for (v, c) in row.iter_mut().zip(centre) {
                *v -= c;
            }
        }
        Ok(out)
    }

    /// A stable FNV-1a hash of the widths, inputs, targets (as `f32` bits) and labels.
    pub fn content_hash(&self) -> u64 {
        let mut hasher = Fnv1a::new();
        for n in [self.input_width, self.target_width, self.len()] {
            hasher.update(&(n as u64).to_le_bytes());
        }
        for value in self.inputs.iter().chain(&self.targets) {
            hasher.update(&value.to_bits().to_le_bytes());
        }
        hasher.update(&self.labels);
        hasher.finish()
    }
}

/// The task on a whole data set: a training and a test [`PredictionSplit`].
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionTask {
    name: String,
    binarization: Option<Binarization>,
    train: PredictionSplit,
    test: PredictionSplit,
}

impl PredictionTask {
    /// The task on `data` (usually binarized first).
    pub fn new(data: &DataSet) -> Self {
        Self {
            name: String::from(data.name()),
            binarization: data.binarization(),
            train: PredictionSplit::from_split(data.train()),
            test: PredictionSplit::from_split(data.test()),
        }
    }

    /// The name of the data set the task was made from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The binarization of the data set, to be reported with every result.
    pub fn binarization(&self) -> Option<Binarization> {
        self.binarization
    }

    /// The training examples.
    pub fn train(&self) -> &PredictionSplit {
        &self.train
    }

    /// The test examples.
    pub fn test(&self) -> &PredictionSplit {
        &self.test
    }

    /// The task with both splits' inputs minus the training inputs' means, and those means.
    ///
    /// The public reference code feeds its first layer this way. Targets stay binary.
    ///
    /// # Errors
    ///
    /// [`DataError::WidthMismatch`] when the test inputs are not as wide as the training ones.
    pub fn centred(&self) -> Result<(Self, Vec<f32>), DataError> {
        let centre = self.train.input_means();
        let task = Self {
            name: self.name.clone(),
            binarization: self.binarization,
            train: self.train.centred(&centre)?,
            test: self.test.centred(&centre)?,
        };
        Ok((task, centre))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn column_means_average_whole_rows_only() {
        let values = [1.0, 2.0, 3.0, 5.0, 9.0];
        assert_eq!(column_means(&values, 2), vec![2.0, 3.5]);
        assert_eq!(column_means(&[], 3), vec![0.0, 0.0, 0.0]);
    }

    fn split(inputs: Vec<f32>, targets: Vec<f32>) -> PredictionSplit {
        let n = inputs.len() / 2;
        PredictionSplit {
            inputs,
            targets,
            labels: vec![0; n],
            input_width: 2,
            target_width: 1,
        }
    }

    #[test]
    fn centring_subtracts_the_training_means_from_both_splits() {
        let task = PredictionTask {
            name: String::from("t"),
            binarization: None,
            train: split(
                vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0],
                vec![1.0, 0.0, 1.0, 0.0],
            ),
            test: split(vec![1.0, 1.0], vec![1.0]),
        };
        let (centred, centre) = task.centred().unwrap();
        assert_eq!(centre, vec![0.5, 0.5]);
        assert_eq!(
            centred.train().inputs_flat(),
            &[0.5, -0.5, 0.5, 0.5, -0.5, 0.5, -0.5, -0.5]
        );
        assert_eq!(centred.test().inputs_flat(), &[0.5, 0.5]);
        assert_eq!(centred.train().targets_flat(), task.train().targets_flat());
        assert_eq!(centred.test().targets_flat(), task.test().targets_flat());
    }

    #[test]
    fn centring_rejects_a_centre_of_the_wrong_width() {
        let err = split(vec![1.0, 0.0], vec![1.0])
            .centred(&[0.5])
            .unwrap_err();
        assert!(matches!(
            err,
            DataError::WidthMismatch {
                width: 2,
                requested: 1,
                ..
            }
        ));
    }

    #[test]
    fn halves_of_an_odd_height_give_the_extra_row_to_the_bottom() {
        let image: Vec<f32> = (0..15).map(|i| i as f32).collect();
        let (top, bottom) = split_halves(&image, 5, 3).unwrap();
        assert_eq!(top, &image[..6]);
        assert_eq!(bottom, &image[6..]);
    }

    #[test]
    fn halves_reject_a_wrong_length() {
        let err = split_halves(&[0.0; 10], 4, 3).unwrap_err();
        assert!(matches!(
            err,
            DataError::WidthMismatch {
                width: 10,
                requested: 12,
                ..
            }
        ));
        assert!(split_halves(&[0.0; 4], usize::MAX, 2).is_err());
    }

    #[test]
    fn rows_view_matches_the_flat_layout() {
        let pixels: Vec<f32> = (0..2 * 16).map(|i| i as f32).collect();
        let split = Split::new(4, 4, pixels, std::vec![0, 1]).unwrap();
        let task = PredictionSplit::from_split(&split);
        let inputs = task.inputs::<8>().unwrap();
        let targets = task.targets::<8>().unwrap();
        assert_eq!(inputs[1][0], 16.0);
        assert_eq!(targets[0][0], 8.0);
        assert_eq!(targets[1][7], 31.0);
        assert!(task.inputs::<7>().is_err());
        assert!(task.targets::<0>().is_err());
    }
}
