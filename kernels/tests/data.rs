//! The bundled KV slice: its shape and provenance, the cutting tool on synthetic input,
//! and (when the full dump is beside the workspace) that re-cutting reproduces it exactly.

use std::path::PathBuf;

use aqua_kernels::data::cut::{cut, sha256_hex, CutSpec, Origin};
use aqua_kernels::data::{DataError, KvSlice, BUNDLED};
use half::f16;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

const SOURCE_SHA256: &str = "97aeead3db52eeb51e9c9f3610b17e69e36048903667bc12b48a35047c31de58";

#[test]
fn bundled_slice_shape_and_provenance() {
    let s = KvSlice::bundled().unwrap();
    assert_eq!((s.tokens, s.channels), (512, 192));
    let layers: Vec<usize> = s.layers.iter().map(|l| l.layer).collect();
    assert_eq!(layers, [0, 1, 2, 3, 15, 16, 28, 29]);
    assert!(BUNDLED.len() <= 4 << 20, "at most 4 MB");
    let p: serde_json::Value = serde_json::from_str(&s.provenance).unwrap();
    assert_eq!(p["source_sha256"], SOURCE_SHA256);
    assert_eq!(p["rows"], serde_json::json!([0, 512]));
    // Real activations: finite, not constant, keys larger than values in layer 0.
    let rms = |v: &[f16]| (v.iter().map(|x| (x.to_f32() as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    for l in &s.layers {
        assert!(l.k.iter().chain(&l.v).all(|x| x.is_finite()));
        assert!(rms(&l.k) > 0.1 && rms(&l.v) > 0.01, "layer {}", l.layer);
    }
    assert!(rms(&s.layers[0].k) > 10.0 * rms(&s.layers[0].v));
}

/// A fake dump: `layers` layers of f16 `[rows, cols]` with value = layer * 1000 + index.
fn fake_dump(layers: usize, rows: usize, cols: usize) -> Vec<u8> {
    let data: Vec<(String, Vec<u8>)> = (0..layers)
        .flat_map(|l| ["k", "v"].map(|kind| (l, kind)))
        .map(|(l, kind)| {
            let bytes = (0..rows * cols)
                .flat_map(|i| f16::from_f32((l * 1000 + i) as f32).to_le_bytes())
                .collect();
            (format!("layers.{l}.{kind}"), bytes)
        })
        .collect();
    let views: Vec<(&str, TensorView)> = data
        .iter()
        .map(|(n, b)| (n.as_str(), TensorView::new(Dtype::F16, vec![rows, cols], b).unwrap()))
        .collect();
    safetensors::serialize(views, &None).unwrap()
}

#[test]
fn cut_keeps_the_asked_layers_and_rows() {
    let src = fake_dump(3, 10, 4);
    let spec = CutSpec {
        layers: vec![2, 0, 2],
        rows: 3..6,
    };
    let origin = Origin {
        source_name: "fake".into(),
        model: "none".into(),
        rows_note: "rows 3..6".into(),
    };
    let out = cut(&src, &spec, &origin).unwrap();
    assert_eq!(out, cut(&src, &spec, &origin).unwrap(), "deterministic");
    let s = KvSlice::from_bytes(&out).unwrap();
    assert_eq!((s.tokens, s.channels), (3, 4));
    assert_eq!(s.layers.iter().map(|l| l.layer).collect::<Vec<_>>(), [0, 2]);
    assert_eq!(s.layers[1].k[0].to_f32(), 2000.0 + 12.0);
    let p: serde_json::Value = serde_json::from_str(&s.provenance).unwrap();
    assert_eq!(p["source_sha256"], sha256_hex(&src));
    assert_eq!(p["layers"], serde_json::json!([0, 2]));
}

#[test]
fn cut_rejects_what_is_not_there() {
    let src = fake_dump(2, 10, 4);
    let origin = Origin::default();
    let e = cut(
        &src,
        &CutSpec {
            layers: vec![0],
            rows: 5..11,
        },
        &origin,
    )
    .unwrap_err();
    assert!(
        matches!(e, DataError::Layout(_)) && e.to_string().contains("10 rows"),
        "{e}"
    );
    let e = cut(
        &src,
        &CutSpec {
            layers: vec![7],
            rows: 0..1,
        },
        &origin,
    )
    .unwrap_err();
    assert!(e.to_string().contains("layers.7.k"), "{e}");
    assert!(cut(
        b"not safetensors",
        &CutSpec {
            layers: vec![0],
            rows: 0..1
        },
        &origin
    )
    .is_err());
    assert!(KvSlice::from_bytes(&[0u8; 3]).is_err());
}

/// Re-cuts the bundled slice from the full dump beside the workspace (`../shared/data`)
/// and compares the bytes.
#[test]
#[ignore = "needs ../shared/data beside the checkout: scripts/test.sh runs it where present"]
fn bundled_slice_is_reproducible() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/smollm2-kv/kv_a.safetensors");
    let bytes = std::fs::read(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    assert_eq!(sha256_hex(&bytes), SOURCE_SHA256);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aqua"))
        .arg("slice-kv")
        .arg("--source")
        .arg(&source)
        .arg("-o")
        .arg(dir.path().join("slice.safetensors"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&sha256_hex(BUNDLED)),
        "the cut differs from the bundled slice: {stdout}"
    );
}
