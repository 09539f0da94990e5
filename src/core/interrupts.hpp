// Cancellation hook for long loops in the core. The core cannot see PostgreSQL, so the SQL
// layer installs a function that checks for a pending query cancel and throws a C++ exception
// (which unwinds through the core like any other error).
#pragma once

namespace ag {

using InterruptCheck = void (*)();

// Installs the check (nullptr removes it). Not thread-safe: install it once at load time.
void set_interrupt_check(InterruptCheck check);

// Calls the installed check, if any; may throw whatever the check throws.
void check_interrupts();

}  // namespace ag
