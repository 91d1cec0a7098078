//! `iomem-sim`: see the library's `app` module; everything happens there.

fn main() -> std::process::ExitCode {
    iomem_sim::app::main()
}
