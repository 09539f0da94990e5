#include "interrupts.hpp"

namespace ag {

namespace {
InterruptCheck g_check = nullptr;
}  // namespace

void set_interrupt_check(InterruptCheck check) { g_check = check; }

void check_interrupts() {
  if (g_check) g_check();
}

}  // namespace ag
