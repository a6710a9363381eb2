use aqua_macros::kernel;

#[kernel]
fn generic<T>(x: Ptr<f32>) -> f32 {
    load(x)
}

fn main() {}
