// The OpenMP wait policy of the apps (issue 17): chosen before LibTorch's OpenMP runtime starts.
#pragma once

namespace scorelab {

// Call first in every app's main(). libgomp (LibTorch's OpenMP runtime) reads its wait policy once, as it loads,
// before main; by default its threads spin at every barrier before they sleep. When another process holds a core,
// the spinning thread burns the time slice its partner needs: one PixelCNN++ step with 2 threads took 15.1-15.6 s
// beside one busy process, 10.6-11.1 s with the passive policy, 8.9-9.6 s with 1 thread; idle, the passive policy
// costs 9-23% (bench/threads_under_load.sh, reports/performance.md). So: when other processes keep at least half a
// core busy as the app starts (/proc/stat over 100 ms) and neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, this
// sets OMP_WAIT_POLICY=PASSIVE and re-executes the program (same process, same arguments) so that libgomp starts
// with it, silently (scripts count stderr lines); results do not change. Returns the busy cores it measured (-1:
// it did not measure).
double choose_openmp_wait_policy(char** argv);

// Busy cores (all processes) over `ms` milliseconds, from /proc/stat; -1 where /proc/stat is unreadable.
double busy_cores(int ms);

}  // namespace scorelab
