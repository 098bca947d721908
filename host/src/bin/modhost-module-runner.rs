//! `modhost-module-runner SOCKET`: runs one module with `isolation: process` for the
//! `modhost` server that started it (see `modhost::modules::isolated`). Not for use by hand.

fn main() -> std::process::ExitCode {
    let Some(socket) = std::env::args().nth(1) else {
        eprintln!("modhost-module-runner: started by modhost for a module with `isolation: process`; usage: modhost-module-runner SOCKET");
        return std::process::ExitCode::from(2);
    };
    std::process::ExitCode::from(modhost::modules::isolated::runner::main(&socket) as u8)
}
