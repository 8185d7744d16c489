use gc::Oop;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = images::load_image(std::path::Path::new(&a[1])).unwrap();
    let h = &img.heap;
    for ci in a[2..].iter().map(|s| s.parse::<u32>().unwrap()) {
        let c = h.class_at_index(ci).unwrap();
        println!(
            "class {ci} @{:?} hash {} slots {} fmt {}",
            c,
            h.header(c).hash(),
            h.num_slots(c),
            h.format(c)
        );
        for i in 0..h.num_slots(c) {
            let v = h.slot(c, i);
            let d = images::info::describe(h, v);
            let s = if v.is_object() {
                h.string_of(v).unwrap_or_default()
            } else {
                String::new()
            };
            println!(
                "  {i}: {v:?} {d} {s:?} ci={}",
                if v.is_object() { h.class_index_of(v) } else { 0 }
            );
        }
        let _ = Oop(0);
    }
}
