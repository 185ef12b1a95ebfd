# Reliability (issue 6): bad input of every class gets one clear line and a non-zero status; kill -9, SIGTERM
# and SIGINT followed by --resume end bit-identical to an uninterrupted run; same seed, same metrics.json;
# a full disk leaves no result behind. Scripts: tests/apps/*.sh; data: tests/apps/make_data.py.
set(REL_DIR ${CMAKE_BINARY_DIR}/reliability)
set(APPS ${CMAKE_BINARY_DIR}/apps)
set(SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/apps)
set(EXPECT ${SCRIPTS}/expect_error.sh)
set(WITH_DATA ${SCRIPTS}/with_data.sh)
set(TOY_TINY --iters 10 --samples 200 --test-size 100 --hidden 8 --depth 1 --mixtures 3 --timesteps 20
    --steps-per-level 2 --steps 5 --batch-size 32 --threads 1 --quiet --no-plots)
# A tiny image run on make_data.py's 64-image MNIST: a few seconds on one core.
set(IMG ${APPS}/train --dataset mnist --batch-size 4 --eval-images 8 --threads 1 --quiet --seed 7)

# Unknown names and bad values not covered by smoke.cmake.
set(BAD ${APPS}/compare ${TOY_TINY} --out ${REL_DIR}/bad)
add_test(NAME rel.bad.unknown_sampler COMMAND ${EXPECT} 2 "sampler.*'foo'" ${BAD} --method ddpm --sampler foo)
add_test(NAME rel.bad.unknown_objective COMMAND ${EXPECT} 2 "objective.*'foo'" ${BAD} --method ncsn --objective foo)
add_test(NAME rel.bad.train_unknown_method COMMAND ${EXPECT} 2 "method.*'foo'" ${APPS}/train --method foo --dataset mnist --out ${REL_DIR}/t)
add_test(NAME rel.bad.negative_skip_nonfinite COMMAND ${EXPECT} 2 "flag --skip-nonfinite: got '-1'" ${BAD} --skip-nonfinite -1)

# smoke.cmake's bad.zero_steps passes --steps twice (its base flags hold --steps 5) and fails for that reason:
# these run the zero values alone.
set(BARE ${APPS}/compare --iters 1 --threads 1 --quiet --no-plots --out ${REL_DIR}/bad)
add_test(NAME rel.bad.zero_steps COMMAND ${EXPECT} 2 "flag --steps: got '0'; expected an integer >= 1" ${BARE} --method ddpm --sampler ddim --steps 0)
add_test(NAME rel.bad.zero_steps_per_level COMMAND ${EXPECT} 2 "flag --steps-per-level: got '0'" ${BARE} --method ncsn --steps-per-level 0)
add_test(NAME rel.bad.train_zero_batch COMMAND ${EXPECT} 2 "flag --batch-size: got '0'" ${APPS}/train --method ar --dataset mnist --batch-size 0 --out ${REL_DIR}/t)
add_test(NAME rel.bad.train_negative_sigma COMMAND ${EXPECT} 2 "flag --sigma: got '-1'" ${APPS}/train --method smoothed-ar --dataset mnist --sigma -1 --out ${REL_DIR}/t)

# Config files: unknown key, bad type.
file(WRITE ${REL_DIR}/unknown-key.cfg "iters = 10\nsigmaa = 0.5\n")
file(WRITE ${REL_DIR}/bad-type.cfg "sigma = many\n")
add_test(NAME rel.bad.config_unknown_key COMMAND ${EXPECT} 2 "config file '.*unknown-key.cfg': .*sigmaa.*fix that line"
         ${BAD} --config ${REL_DIR}/unknown-key.cfg)
add_test(NAME rel.bad.config_bad_type COMMAND ${EXPECT} 2 "config file '.*bad-type.cfg': .*many.*sigma"
         ${BAD} --config ${REL_DIR}/bad-type.cfg)

# Broken data files, through the train app (status 3, the file and the get-data command named).
foreach(case empty truncated magic count)
  set(d ${REL_DIR}/data-idx-${case})
  set(pattern_empty "train-images-idx3-ubyte': empty file")
  set(pattern_truncated "train-images-idx3-ubyte': truncated: header says 64x28x28")
  set(pattern_magic "train-images-idx3-ubyte': not an IDX file \\(magic bytes 0x12 0x34")
  set(pattern_count "64 images but 60 labels")
  add_test(NAME rel.bad.idx_${case} COMMAND ${WITH_DATA} idx-${case} ${d} -- ${EXPECT} 3 "${pattern_${case}}.*run scripts/get-data mnist"
           ${APPS}/train --method ar --preset tiny --dataset mnist --data-dir ${d} --quiet --out ${REL_DIR}/out-idx-${case})
endforeach()
foreach(case size label)
  set(d ${REL_DIR}/data-cifar-${case})
  set(pattern_size "data_batch_1.bin': size 3072 bytes is not a positive multiple of the 3073-byte record")
  set(pattern_label "data_batch_1.bin': record 1 \\(byte 3073\\) has label 10, expected 0..9")
  add_test(NAME rel.bad.cifar_${case} COMMAND ${WITH_DATA} cifar-${case} ${d} -- ${EXPECT} 3 "${pattern_${case}}.*run scripts/get-data cifar10"
           ${APPS}/train --method ar --preset tiny --dataset cifar10 --data-dir ${d} --quiet --out ${REL_DIR}/out-cifar-${case})
endforeach()

# Checkpoints from another model or preset, truncated, empty, garbage or with a flipped byte: refused on --resume.
set(TINY_MNIST ${REL_DIR}/data-tiny-mnist)
add_test(NAME rel.data.tiny_mnist COMMAND python3 ${SCRIPTS}/make_data.py tiny-mnist ${TINY_MNIST})
set_tests_properties(rel.data.tiny_mnist PROPERTIES FIXTURES_SETUP tiny_mnist)
foreach(case other-model other-preset truncated empty garbage flipped)
  add_test(NAME rel.bad.checkpoint_${case} COMMAND ${SCRIPTS}/checkpoint_faults.sh ${case} ${REL_DIR}/ckpt-${case} ${EXPECT}
           -- ${IMG} --iters 2 --data-dir ${TINY_MNIST})
  set_tests_properties(rel.bad.checkpoint_${case} PROPERTIES FIXTURES_REQUIRED tiny_mnist)
endforeach()

# A full disk (file-size limit): status 3, one line, no metrics.json, no temporary files.
add_test(NAME rel.bad.disk_full COMMAND ${SCRIPTS}/disk_full.sh ${REL_DIR}/disk-full 16 --
         ${APPS}/train --method ncsn --dataset mog --iters 10 --threads 1 --quiet)

# kill -9 / SIGTERM / SIGINT at a random moment after the first checkpoint, then --resume: bit-identical.
set(TOY_LONG ${APPS}/train --method ncsn --dataset mog --iters 3000 --checkpoint-every 100 --batch-size 64
    --threads 1 --quiet --seed 11)
add_test(NAME rel.kill9_resume_toy COMMAND ${SCRIPTS}/interrupt_resume.sh KILL ${REL_DIR}/kill9-toy ncsn.ckpt ncsn_loss.csv -- ${TOY_LONG})
# A toy compare killed and resumed reports every figure of an uninterrupted one (final_loss included).
add_test(NAME rel.kill9_resume_compare COMMAND ${SCRIPTS}/interrupt_resume.sh KILL ${REL_DIR}/kill9-compare checkpoints/ncsn.ckpt
         checkpoints/ncsn_loss.csv -- ${APPS}/compare --method ncsn --dataset mog --iters 3000 --checkpoint-every 100
         --batch-size 64 --samples 200 --test-size 100 --steps-per-level 2 --threads 1 --quiet --no-plots --seed 11)
# The same with the methods in worker processes: kill -9 of the parent stops its workers (they checkpoint), and
# --resume gives the figures of an uninterrupted --jobs 2 run.
add_test(NAME rel.kill9_resume_compare_jobs COMMAND ${SCRIPTS}/interrupt_resume.sh KILL ${REL_DIR}/kill9-compare-jobs
         checkpoints/ncsn.ckpt checkpoints/ncsn_loss.csv -- ${APPS}/compare --method ncsn,ar --dataset mog --iters 3000
         --checkpoint-every 100 --batch-size 64 --samples 200 --test-size 100 --steps-per-level 2 --jobs 2 --threads 2
         --quiet --no-plots --seed 11)
add_test(NAME rel.sigterm_resume_toy COMMAND ${SCRIPTS}/interrupt_resume.sh TERM ${REL_DIR}/sigterm-toy ncsn.ckpt ncsn_loss.csv -- ${TOY_LONG})
add_test(NAME rel.sigint_resume_image COMMAND ${SCRIPTS}/interrupt_resume.sh INT ${REL_DIR}/sigint-image checkpoint.ckpt train_loss.csv
         -- ${IMG} --method ddpm --preset tiny --iters 40 --checkpoint-every 2 --data-dir ${TINY_MNIST})
add_test(NAME rel.kill9_resume_image COMMAND ${SCRIPTS}/interrupt_resume.sh KILL ${REL_DIR}/kill9-image checkpoint.ckpt train_loss.csv
         -- ${IMG} --method ar --preset tiny --iters 40 --checkpoint-every 2 --data-dir ${TINY_MNIST})
set_tests_properties(rel.sigint_resume_image rel.kill9_resume_image PROPERTIES FIXTURES_REQUIRED tiny_mnist)

# Same seed, same CPU build: metrics.json identical byte for byte (timings go to timings.json) for every toy method and
# for tiny image runs.
add_test(NAME rel.determinism_toy_all COMMAND ${SCRIPTS}/determinism.sh ${REL_DIR}/det-toy -- ${APPS}/compare --method all --dataset mog ${TOY_TINY})
foreach(method ar ncsn ddpm)
  add_test(NAME rel.determinism_image_${method} COMMAND ${SCRIPTS}/determinism.sh ${REL_DIR}/det-image-${method}
           -- ${IMG} --method ${method} --preset tiny --iters 4 --data-dir ${TINY_MNIST})
  set_tests_properties(rel.determinism_image_${method} PROPERTIES FIXTURES_REQUIRED tiny_mnist)
endforeach()

# study (issue 14): a sweep of 2 learning rates x 2 seeds on the toy with a tiny budget, then the same command
# again, which reuses all four runs; bad sweeps get one clear line.
set(STUDY_DIR ${CMAKE_BINARY_DIR}/study)
add_test(NAME app.study.clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${STUDY_DIR})
set_tests_properties(app.study.clean PROPERTIES FIXTURES_SETUP study_clean)
set(STUDY_TOY ${APPS}/study --axis lr=1e-3,2e-3 --seeds 0,1 --jobs 2 --out ${STUDY_DIR}/toy -- --method ar,ncsn --dataset mog ${TOY_TINY})
add_test(NAME app.study.toy_sweep COMMAND ${STUDY_TOY})
set_tests_properties(app.study.toy_sweep PROPERTIES FIXTURES_REQUIRED study_clean FIXTURES_SETUP study_toy
                     PASS_REGULAR_EXPRESSION "finished .*report: .*/report.md")
add_test(NAME app.study.resume COMMAND ${STUDY_TOY})
set_tests_properties(app.study.resume PROPERTIES FIXTURES_REQUIRED study_toy DEPENDS app.study.toy_sweep
                     PASS_REGULAR_EXPRESSION "reusing .*lr=1e-3/seed-0.*reusing .*lr=1e-3/seed-1.*reusing .*lr=2e-3/seed-0.*reusing .*lr=2e-3/seed-1.*report:"
                     FAIL_REGULAR_EXPRESSION "\\[study\\] run ")
add_test(NAME bad.study.axis_sets_seed COMMAND ${EXPECT} 2 "flag --axis: got 'seed=1,2'; expected an axis other than --seed"
         ${APPS}/study --axis seed=1,2 --out ${STUDY_DIR}/bad -- --method ar --dataset mog)
add_test(NAME bad.study.base_sets_axis COMMAND ${EXPECT} 2 "error: --lr is both an --axis and a flag after"
         ${APPS}/study --axis lr=1,2 --out ${STUDY_DIR}/bad -- --method ar --lr 3)
# A run that fails (--levels 1 is refused by compare): the others finish, the summary is written, and study
# exits 3 naming the failed run's log.
add_test(NAME bad.study.failed_run COMMAND ${SCRIPTS}/study_failed_run.sh
         ${APPS}/study --axis levels=1,3 --out ${STUDY_DIR}/bad-run -- --method ar --dataset mog ${TOY_TINY})
set_tests_properties(bad.study.failed_run PROPERTIES FIXTURES_REQUIRED study_clean)
