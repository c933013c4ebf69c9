fn main() {
    println!("palisade: under construction");
}
