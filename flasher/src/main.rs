fn main() {
    eprintln!("mreq-flash: the flasher is not built yet (see the flasher issue)");
    std::process::exit(2);
}
