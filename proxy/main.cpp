// switchboard: parse the command line, load the configuration, run.
#include "proxy/cli.h"

int main(int argc, char** argv) {
  return sb::cli::main(argc, argv);
}
