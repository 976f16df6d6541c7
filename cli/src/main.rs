fn main() {
    eprintln!("mreq: the command-line client is not built yet (see the CLI issue)");
    std::process::exit(2);
}
