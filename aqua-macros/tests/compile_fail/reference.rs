use aqua_macros::kernel;

fn helper(v: &aqua_dsl::build::Value) -> aqua_dsl::build::Value {
    *v
}

#[kernel]
fn by_reference(x: PtrMut<f32>) {
    let v = load(x);
    store(x, helper(&v));
}

fn main() {}
