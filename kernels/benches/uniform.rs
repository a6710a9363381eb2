//! Criterion benchmark of the uniform quantizer kernels (2-bit, group 64, f16) on the
//! bundled real KV slice, one thread and every core. `aqua bench` reports the same next to
//! memcpy and the compile and cache costs; this one gives criterion's statistics.

use aqua_dsl::DType;
use aqua_kernels::data::KvSlice;
use aqua_kernels::host::uniform::{QuantizedBuffers, UniformKernels};
use aqua_kernels::quant::{Grouping, Uniform};
use aqua_runtime::{HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn uniform(c: &mut Criterion) {
    let slice = KvSlice::bundled().expect("bundled slice");
    let values = slice.all_values();
    let x = HostBuffer::from_slice(&values);
    let q = Uniform::new(2, 64).expect("valid quantizer");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("uniform_2bit_g64_f16");
    group.throughput(Throughput::Bytes(x.size_bytes() as u64));
    for threads in [1, cores] {
        let rt = Runtime::cpu_with(RuntimeOptions {
            threads,
            mode: LaunchMode::Unchecked,
            cache_dir: None,
            dump_dir: None,
            ..RuntimeOptions::default()
        });
        let k = UniformKernels::compile(&rt, q, Grouping::Channels, DType::F16).expect("compile");
        let mut packed = QuantizedBuffers::zeros(q, Grouping::Channels, values.len());
        let mut restored = HostBuffer::zeros(DType::F16, values.len());
        group.bench_function(format!("quantize/{threads}t"), |b| {
            b.iter(|| k.quantize_into(&rt, &x, &mut packed).expect("quantize"))
        });
        group.bench_function(format!("dequantize/{threads}t"), |b| {
            b.iter(|| k.dequantize_into(&rt, &packed, &mut restored).expect("dequantize"))
        });
    }
    group.finish();
}

criterion_group!(benches, uniform);
criterion_main!(benches);
