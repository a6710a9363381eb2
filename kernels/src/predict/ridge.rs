//! Ridge regression in closed form: the linear maps of AQUA-KV's predictors.
//!
//! [`Linear::fit`] finds the `W`, `b` that minimize `||X W + b - Y||^2 + lambda ||W||^2`
//! over the rows of `X` (`[rows, inputs]`) and `Y` (`[rows, outputs]`). The intercept `b`
//! is not penalized, so the fit centers both first: `W = (Xc^T Xc + lambda I)^-1 Xc^T Yc`
//! and `b = mean(Y) - mean(X) W`, with `lambda = 1e-3 * mean(diag(Xc^T Xc))`
//! (`DESIGN.md`'s rule, taken on the centered Gram matrix: relative to the inputs'
//! variance, so the same for data at any scale). The sums run in f64, as 4096 tokens of
//! activations squared lose digits in f32, and the system is solved by Cholesky, which
//! the ridge term keeps positive definite. The map is kept in f32, the precision it is
//! applied in.

use faer::prelude::Solve;
use faer::{Mat, MatRef, Side};

use super::PredictError;

/// DESIGN.md's ridge strength, relative to the mean diagonal of the centered Gram matrix.
pub const RIDGE: f64 = 1e-3;

/// `y = x W + b` for rows `x` of `inputs` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    inputs: usize,
    outputs: usize,
    /// `W`, `[inputs, outputs]` row-major.
    weight: Vec<f32>,
    /// `b`, `[outputs]`.
    bias: Vec<f32>,
}

impl Linear {
    /// The ridge fit of `y` (`[rows, outputs]` row-major) on `x` (`[rows, inputs]`), with
    /// `lambda = ridge * mean(diag(Xc^T Xc))`. Inputs that do not vary (every centered
    /// input zero) get `W = 0`: the prediction is the mean of `y`.
    pub fn fit(x: &[f32], y: &[f32], inputs: usize, outputs: usize, ridge: f64) -> Result<Linear, PredictError> {
        let rows = rows_of(x, inputs, "inputs")?;
        if rows_of(y, outputs, "targets")? != rows {
            return Err(PredictError::Shape(format!(
                "{rows} rows of inputs but {} rows of targets",
                y.len() / outputs.max(1)
            )));
        }
        if rows == 0 {
            return Err(PredictError::Shape("no rows to fit on".into()));
        }
        if let Some(i) = x.iter().chain(y).position(|v| !v.is_finite()) {
            let (what, at) = if i < x.len() { ("inputs", i) } else { ("targets", i - x.len()) };
            return Err(PredictError::NonFinite(format!("{what} value {at} is not finite")));
        }
        if !(ridge.is_finite() && ridge >= 0.0) {
            return Err(PredictError::Shape(format!("ridge strength {ridge} is not a finite non-negative number")));
        }
        let (xc, x_mean) = centered(x, rows, inputs);
        let (yc, y_mean) = centered(y, rows, outputs);
        let gram = xc.transpose() * &xc;
        let trace: f64 = (0..inputs).map(|i| gram[(i, i)]).sum();
        let weight = if trace == 0.0 {
            Mat::<f64>::zeros(inputs, outputs)
        } else {
            let lambda = ridge * trace / inputs as f64;
            let regularized = Mat::from_fn(inputs, inputs, |i, j| gram[(i, j)] + if i == j { lambda } else { 0.0 });
            let llt = regularized.llt(Side::Lower).map_err(|e| {
                PredictError::Singular(format!("the regularized Gram matrix is not positive definite ({e:?})"))
            })?;
            llt.solve(xc.transpose() * &yc)
        };
        let bias: Vec<f32> = (0..outputs)
            .map(|o| (y_mean[o] - (0..inputs).map(|i| x_mean[i] * weight[(i, o)]).sum::<f64>()) as f32)
            .collect();
        let weight = (0..inputs).flat_map(|i| (0..outputs).map(move |o| (i, o))).map(|(i, o)| weight[(i, o)] as f32);
        Ok(Linear { inputs, outputs, weight: weight.collect(), bias })
    }

    /// The map of `weight` (`[inputs, outputs]` row-major) and `bias` (`[outputs]`), as
    /// [`Linear::weight`] and [`Linear::bias`] give them (a predictors file's).
    pub fn from_parts(inputs: usize, outputs: usize, weight: Vec<f32>, bias: Vec<f32>) -> Result<Linear, PredictError> {
        if weight.len() != inputs * outputs || bias.len() != outputs {
            return Err(PredictError::Shape(format!(
                "{} weights and {} biases are not a map of {inputs} inputs to {outputs} outputs",
                weight.len(),
                bias.len()
            )));
        }
        for (what, values) in [("weight", &weight), ("bias", &bias)] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(PredictError::NonFinite(format!("{what} {i} is {}", values[i])));
            }
        }
        Ok(Linear { inputs, outputs, weight, bias })
    }

    /// `x W + b` for `x` of `[rows, inputs]`: `[rows, outputs]`, in f32.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f32>, PredictError> {
        let rows = rows_of(x, self.inputs, "inputs")?;
        let x = MatRef::from_row_major_slice(x, rows, self.inputs);
        let w = MatRef::from_row_major_slice(&self.weight, self.inputs, self.outputs);
        let y = x * w;
        Ok((0..rows)
            .flat_map(|r| (0..self.outputs).map(move |o| (r, o)))
            .map(|(r, o)| y[(r, o)] + self.bias[o])
            .collect())
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `W`, `[inputs, outputs]` row-major.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// `b`, `[outputs]`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Parameters stored: `W` and `b`.
    pub fn parameters(&self) -> usize {
        self.weight.len() + self.bias.len()
    }
}

/// Rows of a row-major `[rows, cols]` slice, or why it is not one.
fn rows_of(values: &[f32], cols: usize, what: &str) -> Result<usize, PredictError> {
    if cols == 0 || !values.len().is_multiple_of(cols) {
        return Err(PredictError::Shape(format!("{} {what} values are not rows of {cols}", values.len())));
    }
    Ok(values.len() / cols)
}

/// `v - mean(v)` per column, in f64, and the means.
fn centered(v: &[f32], rows: usize, cols: usize) -> (Mat<f64>, Vec<f64>) {
    let mut mean = vec![0.0f64; cols];
    for row in v.chunks_exact(cols) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    let centered = Mat::from_fn(rows, cols, |r, c| f64::from(v[r * cols + c]) - mean[c]);
    (centered, mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random stream in `[-1, 1)`.
    fn noise(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    #[test]
    fn an_exact_affine_map_is_recovered() {
        let (rows, inputs, outputs) = (200, 5, 3);
        let mut next = noise(7);
        let w: Vec<f32> = (0..inputs * outputs).map(|_| next() * 2.0).collect();
        let b = [0.5f32, -3.0, 10.0];
        let x: Vec<f32> = (0..rows * inputs).map(|_| next() * 4.0 + 1.0).collect();
        let w_ref = &w;
        let y: Vec<f32> = x
            .chunks_exact(inputs)
            .flat_map(|r| {
                (0..outputs).map(move |o| (0..inputs).map(|i| r[i] * w_ref[i * outputs + o]).sum::<f32>() + b[o])
            })
            .collect();
        // Without the ridge term the least-squares fit is exact (to f32 rounding).
        let fit = Linear::fit(&x, &y, inputs, outputs, 0.0).unwrap();
        for (got, want) in fit.weight().iter().zip(&w) {
            assert!((got - want).abs() < 1e-4, "weight {got} against {want}");
        }
        for (got, want) in fit.bias().iter().zip(&b) {
            assert!((got - want).abs() < 1e-3, "bias {got} against {want}");
        }
        let predicted = fit.predict(&x).unwrap();
        let err = crate::quant::relative_error(&y, &predicted);
        assert!(err < 1e-10, "relative error {err}");
        assert_eq!(fit.parameters(), inputs * outputs + outputs);
    }

    /// The ridge term shrinks the weights toward zero, not the intercept, and is relative
    /// to the inputs' scale: scaling the inputs by 10 scales the weights by 1/10 exactly
    /// as without it.
    #[test]
    fn the_ridge_shrinks_weights_relative_to_the_inputs_scale() {
        let (rows, inputs) = (64, 4);
        let mut next = noise(11);
        let x: Vec<f32> = (0..rows * inputs).map(|_| next()).collect();
        let y: Vec<f32> = x.chunks_exact(inputs).map(|r| r[0] - 2.0 * r[3] + 5.0 + 0.1 * next()).collect();
        let plain = Linear::fit(&x, &y, inputs, 1, 0.0).unwrap();
        let ridge = Linear::fit(&x, &y, inputs, 1, 0.5).unwrap();
        let norm = |l: &Linear| l.weight().iter().map(|w| w * w).sum::<f32>();
        assert!(norm(&ridge) < 0.8 * norm(&plain), "{:?} against {:?}", ridge.weight(), plain.weight());
        // The unpenalized intercept still centers the predictions on the targets.
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&ridge.predict(&x).unwrap()) - mean(&y)).abs() < 1e-4);
        let x10: Vec<f32> = x.iter().map(|v| v * 10.0).collect();
        let ridge10 = Linear::fit(&x10, &y, inputs, 1, 0.5).unwrap();
        for (a, b) in ridge10.weight().iter().zip(ridge.weight()) {
            assert!((a * 10.0 - b).abs() < 1e-4 * b.abs().max(1.0), "{a} * 10 against {b}");
        }
    }

    #[test]
    fn constant_inputs_predict_the_mean() {
        let x = vec![3.0f32; 10 * 2];
        let y: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let fit = Linear::fit(&x, &y, 2, 1, RIDGE).unwrap();
        assert_eq!(fit.weight(), &[0.0, 0.0]);
        assert_eq!(fit.predict(&x[..2]).unwrap(), vec![4.5]);
    }

    #[test]
    fn bad_shapes_and_values_are_errors() {
        let err = |r: Result<Linear, PredictError>| r.unwrap_err().to_string();
        assert!(err(Linear::fit(&[1.0; 5], &[1.0; 2], 2, 1, RIDGE)).contains("not rows of 2"));
        assert!(err(Linear::fit(&[1.0; 4], &[1.0; 3], 2, 1, RIDGE)).contains("2 rows of inputs but 3"));
        assert!(err(Linear::fit(&[], &[], 2, 1, RIDGE)).contains("no rows"));
        assert!(err(Linear::fit(&[1.0, f32::NAN], &[1.0], 2, 1, RIDGE)).contains("inputs value 1 is not finite"));
        assert!(err(Linear::fit(&[1.0, 2.0], &[f32::INFINITY], 2, 1, RIDGE)).contains("targets value 0"));
        assert!(err(Linear::fit(&[1.0, 2.0], &[1.0], 2, 1, -1.0)).contains("ridge strength"));
        let fit = Linear::fit(&[1.0, 2.0, 3.0, 5.0], &[1.0, 2.0], 2, 1, RIDGE).unwrap();
        assert!(fit.predict(&[1.0, 2.0, 3.0]).unwrap_err().to_string().contains("not rows of 2"));
    }
}
