# Smoke runs of every app on tiny configs and bad-input checks (exit status and the one-line message).
set(SMOKE_DIR ${CMAKE_BINARY_DIR}/smoke)
set(APPS ${CMAKE_BINARY_DIR}/apps)
set(EXPECT ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh)
set(TINY_BASE --iters 10 --samples 200 --test-size 100 --hidden 8 --depth 1 --mixtures 3
         --timesteps 20 --steps-per-level 2 --threads 1 --quiet)
set(TINY_NOBATCH ${TINY_BASE} --steps 5)
set(TINY ${TINY_NOBATCH} --batch-size 32)

add_test(NAME app.compare.all COMMAND ${APPS}/compare --method all --dataset mog ${TINY} --no-plots
         --out ${SMOKE_DIR}/compare-all)
add_test(NAME app.compare.plots_1d COMMAND ${APPS}/compare --method smoothed-ar,ddpm --dataset mog-1d ${TINY}
         --sampler ddim --out ${SMOKE_DIR}/compare-1d)
add_test(NAME app.compare.plots_2d COMMAND ${APPS}/compare --method ncsn,smoothed-ar --dataset mog-ring ${TINY}
         --plots --denoise single-step --grad detached --objective ssm --out ${SMOKE_DIR}/compare-2d)
# Methods in worker processes (--jobs 2, score-field figures drawn by the workers) equal the in-process run.
add_test(NAME app.compare.jobs_equal COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/jobs_equal.sh ${SMOKE_DIR}/compare-jobs --
         ${APPS}/compare --method all --dataset mog --iters 10 --samples 200 --test-size 100 --hidden 8 --depth 1
         --mixtures 3 --timesteps 20 --steps-per-level 2 --steps 5 --batch-size 32 --quiet --plots)
set_tests_properties(app.compare.jobs_equal PROPERTIES PASS_REGULAR_EXPRESSION "ok: metrics.json identical")
add_test(NAME app.score_field COMMAND ${APPS}/score_field --method ncsn,ddpm ${TINY} --out ${SMOKE_DIR}/score-field)
add_test(NAME app.langevin_toy COMMAND ${APPS}/langevin_toy ${TINY} --out ${SMOKE_DIR}/langevin)
add_test(NAME app.train.describe COMMAND ${APPS}/train --method ddpm --dataset cifar10 --preset paper --describe)
set_tests_properties(app.train.describe PROPERTIES PASS_REGULAR_EXPRESSION "\"params\":")
add_test(NAME bad.train_missing_data COMMAND ${EXPECT} 3 "run scripts/get-data mnist" ${APPS}/train --method ar --dataset mnist
         --data-dir ${SMOKE_DIR}/no-data --preset tiny --quiet --out ${SMOKE_DIR}/train-missing)
add_test(NAME bad.train_stage2_for_ncsn COMMAND ${EXPECT} 2 "flag --stage" ${APPS}/train --method ncsn --stage 2 --out ${SMOKE_DIR}/t)
foreach(app compare score_field langevin_toy train)
  add_test(NAME app.${app}.help COMMAND ${APPS}/${app} --help)
  set_tests_properties(app.${app}.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: ${app}")
endforeach()

# Bad input: one clear line, non-zero exit (2: flags and config, 3: data files).
set(BAD ${APPS}/compare ${TINY_NOBATCH} --no-plots --out ${SMOKE_DIR}/bad)
add_test(NAME bad.unknown_precision COMMAND ${EXPECT} 2 "flag --precision: got 'fp16'; expected one of fp32, bf16" ${BAD} --precision fp16)
add_test(NAME bad.negative_jobs COMMAND ${EXPECT} 2 "flag --jobs: got '-1'; expected 0" ${BAD} --jobs -1)
add_test(NAME bad.classifier_bf16 COMMAND ${EXPECT} 2 "the evaluation classifier trains in fp32 only"
         ${APPS}/classifier --dataset mnist --precision bf16 --out ${SMOKE_DIR}/classifier-bf16)
add_test(NAME bad.unknown_method COMMAND ${EXPECT} 2 "unknown method 'foo'; known: ar, ardm, ddpm, ncsn, smoothed-ar" ${BAD} --method foo)
add_test(NAME bad.unknown_dataset COMMAND ${EXPECT} 2 "flag --dataset: got 'cifar11'; expected one of .*mog.*cifar10" ${BAD} --dataset cifar11)
add_test(NAME bad.train_unknown_dataset COMMAND ${EXPECT} 2 "flag --dataset: got 'svhn'; expected one of .*mog-1d.*fashion-mnist"
         ${APPS}/train --method ar --dataset svhn --out ${SMOKE_DIR}/t)
add_test(NAME bad.train_mixture_file COMMAND ${EXPECT} 2 "train does not read --mixture files"
         ${APPS}/train --method ar --dataset file --out ${SMOKE_DIR}/t)
add_test(NAME bad.negative_sigma COMMAND ${EXPECT} 2 "flag --sigma: got '-0.5'; expected a finite number > 0" ${BAD} --sigma -0.5)
add_test(NAME bad.zero_batch COMMAND ${EXPECT} 2 "flag --batch-size: got '0'" ${BAD} --batch-size 0)
add_test(NAME bad.nan_lr COMMAND ${EXPECT} 2 "flag --lr: got 'nan'" ${BAD} --lr nan)
add_test(NAME bad.negative_budget COMMAND ${EXPECT} 2 "flag --budget-minutes" ${BAD} --budget-minutes -1)
add_test(NAME bad.not_a_number COMMAND ${EXPECT} 2 "sigma" ${BAD} --sigma abc)
add_test(NAME bad.unknown_flag COMMAND ${EXPECT} 2 "unrecognised option '--sigmaa'" ${BAD} --sigmaa 1)
add_test(NAME bad.sampler_mismatch COMMAND ${EXPECT} 2 "method ncsn cannot use 'ddim'" ${BAD} --method ncsn --sampler ddim)
add_test(NAME bad.cuda_without_gpu COMMAND ${EXPECT} 2 "--device: got 'cuda' but no CUDA device" ${BAD} --device cuda)
add_test(NAME bad.missing_config COMMAND ${EXPECT} 2 "flag --config: cannot open '/nonexistent/run.cfg'" ${BAD} --config /nonexistent/run.cfg)
add_test(NAME bad.missing_mixture COMMAND ${EXPECT} 3 "cannot read '/nonexistent/mix.json'" ${BAD} --dataset file --mixture /nonexistent/mix.json)
file(WRITE ${CMAKE_BINARY_DIR}/smoke-truncated.json "{\"weights\": [1, 2], \"means\": [[0, 0], [1")
add_test(NAME bad.truncated_mixture COMMAND ${EXPECT} 3 "smoke-truncated.json' is not valid JSON" ${BAD} --dataset file --mixture ${CMAKE_BINARY_DIR}/smoke-truncated.json)
add_test(NAME bad.mixture_without_file_dataset COMMAND ${EXPECT} 2 "flag --mixture: given with --dataset mog" ${BAD} --mixture ${CMAKE_BINARY_DIR}/smoke-truncated.json)
add_test(NAME bad.ddim_steps_above_T COMMAND ${EXPECT} 2 "flag --steps: got '50'; expected an integer in \\[1, T = 20\\]" ${APPS}/compare ${TINY_BASE} --no-plots --method ddpm --sampler ddim --steps 50)
add_test(NAME bad.unwritable_out COMMAND ${EXPECT} 2 "flag --out: cannot create folder '/proc/scorelab'" ${APPS}/compare ${TINY} --out /proc/scorelab)
add_test(NAME bad.score_field_1d COMMAND ${EXPECT} 2 "score fields are drawn for 2-D data" ${APPS}/score_field ${TINY} --dataset mog-1d --out ${SMOKE_DIR}/bad-sf)
add_test(NAME bad.get_data_checksum COMMAND ${CMAKE_COMMAND} -E env SCORELAB_DATA=${SMOKE_DIR}/data
         ${EXPECT} 1 "sha-?256|checksum|SHA-256" ${PROJECT_SOURCE_DIR}/scripts/get-data cifar10 --from ${CMAKE_BINARY_DIR}/smoke-truncated.json)
add_test(NAME bad.get_data_usage COMMAND ${CMAKE_COMMAND} -E env SCORELAB_DATA=${SMOKE_DIR}/data
         ${PROJECT_SOURCE_DIR}/scripts/get-data nonsense)
set_tests_properties(bad.get_data_usage PROPERTIES WILL_FAIL TRUE)

# inpaint: tiny models trained once on a generated 64-image Fashion-MNIST (make_data.py: no installed data set
# needed), then completions by several methods, and its bad-input checks.
set(INPAINT_MODELS ${SMOKE_DIR}/inpaint-models)
set(INPAINT_DATA ${SMOKE_DIR}/inpaint-data)
add_test(NAME app.inpaint.data COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/apps/make_data.py tiny-fashion-mnist ${INPAINT_DATA})
set_tests_properties(app.inpaint.data PROPERTIES FIXTURES_SETUP inpaint_data)
set(INPAINT_TRAIN --dataset fashion-mnist --data-dir ${INPAINT_DATA} --preset tiny --iters 2 --eval-images 4 --threads 1 --quiet)
add_test(NAME app.inpaint.train_ddpm COMMAND ${APPS}/train --method ddpm --timesteps 10 ${INPAINT_TRAIN} --out ${INPAINT_MODELS}/ddpm)
add_test(NAME app.inpaint.train_smoothed_ar COMMAND ${APPS}/train --method smoothed-ar ${INPAINT_TRAIN} --out ${INPAINT_MODELS}/s1)
set_tests_properties(app.inpaint.train_ddpm PROPERTIES FIXTURES_SETUP inpaint_ddpm FIXTURES_REQUIRED inpaint_data)
set_tests_properties(app.inpaint.train_smoothed_ar PROPERTIES FIXTURES_SETUP inpaint_s1 FIXTURES_REQUIRED inpaint_data)
set(INPAINT ${APPS}/inpaint --images 2 --samples 2 --data-dir ${INPAINT_DATA} --threads 1 --quiet)
add_test(NAME app.inpaint.ddim COMMAND ${INPAINT} --model-dir ${INPAINT_MODELS}/ddpm --mask centre-square --sampler ddim
         --steps 5 --snapshots 2 --out ${SMOKE_DIR}/inpaint-ddim)
add_test(NAME app.inpaint.smoothed_ar COMMAND ${INPAINT} --model-dir ${INPAINT_MODELS}/s1 --mask bottom-half --grad detached
         --ar-draw logistic --out ${SMOKE_DIR}/inpaint-smoothed-ar)
set_tests_properties(app.inpaint.ddim PROPERTIES FIXTURES_REQUIRED inpaint_ddpm PASS_REGULAR_EXPRESSION "mse known 0(\\.0)?,")
set_tests_properties(app.inpaint.smoothed_ar PROPERTIES FIXTURES_REQUIRED inpaint_s1 PASS_REGULAR_EXPRESSION "mse known 0(\\.0)?,")
add_test(NAME app.inpaint.help COMMAND ${APPS}/inpaint --help)
set_tests_properties(app.inpaint.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: inpaint")
add_test(NAME bad.inpaint_no_model_dir COMMAND ${EXPECT} 2 "flag --model-dir" ${INPAINT} --out ${SMOKE_DIR}/inpaint-bad)
add_test(NAME bad.inpaint_missing_model COMMAND ${EXPECT} 3 "model folder '.*no-model' does not exist" ${INPAINT}
         --model-dir ${SMOKE_DIR}/no-model --out ${SMOKE_DIR}/inpaint-bad)
add_test(NAME bad.inpaint_unknown_mask COMMAND ${EXPECT} 2 "flag --mask: got 'diagonal'; expected one of left-half" ${INPAINT}
         --model-dir ${SMOKE_DIR}/no-model --mask diagonal --out ${SMOKE_DIR}/inpaint-bad)
add_test(NAME bad.inpaint_missing_mask_file COMMAND ${EXPECT} 3 "mask file '.*none.png' does not exist" ${INPAINT}
         --model-dir ${INPAINT_MODELS}/ddpm --mask file --mask-file ${SMOKE_DIR}/none.png --out ${SMOKE_DIR}/inpaint-bad)
add_test(NAME bad.inpaint_conditional_without_stage2 COMMAND ${EXPECT} 2 "flag --denoise: conditional-ar needs the stage-2 model"
         ${INPAINT} --model-dir ${INPAINT_MODELS}/s1 --denoise conditional-ar --out ${SMOKE_DIR}/inpaint-bad)
add_test(NAME bad.inpaint_stage2_not_smoothed COMMAND ${EXPECT} 2 "flag --stage2-dir: got '.*ddpm'; expected a smoothed-ar stage-2"
         ${INPAINT} --model-dir ${INPAINT_MODELS}/s1 --stage2-dir ${INPAINT_MODELS}/ddpm --out ${SMOKE_DIR}/inpaint-bad)
set_tests_properties(bad.inpaint_missing_mask_file PROPERTIES FIXTURES_REQUIRED inpaint_ddpm)
set_tests_properties(bad.inpaint_conditional_without_stage2 bad.inpaint_stage2_not_smoothed PROPERTIES FIXTURES_REQUIRED "inpaint_s1;inpaint_ddpm")

# classifier (src/eval): a tiny training run when MNIST is present at configure time, help, and bad input.
if(EXISTS "$ENV{SCORELAB_DATA}/mnist" OR EXISTS "${PROJECT_SOURCE_DIR}/data/mnist")
  add_test(NAME app.classifier COMMAND ${APPS}/classifier --dataset mnist --epochs 1 --train-limit 200 --test-limit 200
           --threads 1 --quiet --out ${SMOKE_DIR}/classifier)
  set_tests_properties(app.classifier PROPERTIES PASS_REGULAR_EXPRESSION "mnist lenet classifier: test accuracy")
endif()
add_test(NAME app.classifier.help COMMAND ${APPS}/classifier --help)
set_tests_properties(app.classifier.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: classifier")
add_test(NAME bad.classifier_missing_data COMMAND ${EXPECT} 3 "run scripts/get-data mnist" ${APPS}/classifier --dataset mnist
         --data-dir ${SMOKE_DIR}/no-data --epochs 1 --out ${SMOKE_DIR}/classifier-missing)
add_test(NAME bad.classifier_unknown_dataset COMMAND ${EXPECT} 2 "flag --dataset: got 'svhn'; expected one of mnist"
         ${APPS}/classifier --dataset svhn --out ${SMOKE_DIR}/classifier-bad)
add_test(NAME bad.classifier_negative_epochs COMMAND ${EXPECT} 2 "flag --epochs: got '-1'" ${APPS}/classifier --epochs -1
         --out ${SMOKE_DIR}/classifier-bad)
# Same seed, same CPU build: inpainting writes a byte-identical metrics.json (issue 6).
add_test(NAME rel.determinism_inpaint COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/determinism.sh ${SMOKE_DIR}/det-inpaint
         -- ${INPAINT} --model-dir ${INPAINT_MODELS}/s1 --mask bottom-half --grad full)
set_tests_properties(rel.determinism_inpaint PROPERTIES FIXTURES_REQUIRED inpaint_s1)
# sample on toy model folders (train --dataset mog), every new sampler as a toy compare row, and bad input.
set(TOY_TRAIN --dataset mog --iters 10 --timesteps 20 --threads 1 --quiet)
add_test(NAME app.sample.train_toy_ncsn COMMAND ${APPS}/train --method ncsn ${TOY_TRAIN} --out ${SMOKE_DIR}/toy-ncsn)
add_test(NAME app.sample.train_toy_ar COMMAND ${APPS}/train --method ar ${TOY_TRAIN} --out ${SMOKE_DIR}/toy-ar)
set_tests_properties(app.sample.train_toy_ncsn PROPERTIES FIXTURES_SETUP toy_ncsn)
set_tests_properties(app.sample.train_toy_ar PROPERTIES FIXTURES_SETUP toy_ar)
set(TOY_SAMPLE ${APPS}/sample --n 50 --batch-size 20 --steps 5 --steps-per-level 2 --threads 1 --quiet)
foreach(s pc ode edm annealed-langevin)
  add_test(NAME app.sample.toy_ncsn_${s} COMMAND ${TOY_SAMPLE} --model-dir ${SMOKE_DIR}/toy-ncsn --sampler ${s}
           --out ${SMOKE_DIR}/toy-ncsn-${s})
  set_tests_properties(app.sample.toy_ncsn_${s} PROPERTIES FIXTURES_REQUIRED toy_ncsn PASS_REGULAR_EXPRESSION "50 samples")
endforeach()
add_test(NAME app.sample.toy_ar_mala COMMAND ${TOY_SAMPLE} --model-dir ${SMOKE_DIR}/toy-ar --sampler mala --step-size 0.01
         --out ${SMOKE_DIR}/toy-ar-mala)
set_tests_properties(app.sample.toy_ar_mala PROPERTIES FIXTURES_REQUIRED toy_ar PASS_REGULAR_EXPRESSION "50 samples")
# evaluate (issue 12): the likelihood of toy model folders, and a kind the method does not have.
add_test(NAME app.evaluate.toy_ar COMMAND ${APPS}/evaluate --model-dir ${SMOKE_DIR}/toy-ar --test-size 200 --threads 1
         --out ${SMOKE_DIR}/eval-ar)
set_tests_properties(app.evaluate.toy_ar PROPERTIES FIXTURES_REQUIRED toy_ar PASS_REGULAR_EXPRESSION "ar: exact: .* nats per example")
add_test(NAME app.evaluate.toy_ncsn_ode COMMAND ${APPS}/evaluate --model-dir ${SMOKE_DIR}/toy-ncsn --likelihood ode
         --test-size 200 --lik-rtol 1e-3 --lik-atol 1e-3 --threads 1 --out ${SMOKE_DIR}/eval-ncsn)
set_tests_properties(app.evaluate.toy_ncsn_ode PROPERTIES FIXTURES_REQUIRED toy_ncsn
                     PASS_REGULAR_EXPRESSION "probability-flow ODE .*exact divergence.* nats per example")
add_test(NAME bad.evaluate_missing_kind COMMAND ${EXPECT} 2 "flag --likelihood: got 'bound'; expected one of ode" ${APPS}/evaluate
         --model-dir ${SMOKE_DIR}/toy-ncsn --likelihood bound --test-size 200 --out ${SMOKE_DIR}/eval-bad)
set_tests_properties(bad.evaluate_missing_kind PROPERTIES FIXTURES_REQUIRED toy_ncsn)
add_test(NAME bad.evaluate_unknown_kind COMMAND ${EXPECT} 2 "flag --likelihood: got 'elbo'; expected one of exact, bound, ode"
         ${APPS}/evaluate --model-dir ${SMOKE_DIR}/toy-ncsn --likelihood elbo --out ${SMOKE_DIR}/eval-bad)
add_test(NAME app.evaluate.help COMMAND ${APPS}/evaluate --help)
set_tests_properties(app.evaluate.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: evaluate")
add_test(NAME app.sample.help COMMAND ${APPS}/sample --help)
set_tests_properties(app.sample.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: sample")
add_test(NAME bad.sample_missing_model COMMAND ${EXPECT} 3 "model folder '.*no-model' does not exist" ${TOY_SAMPLE}
         --model-dir ${SMOKE_DIR}/no-model --out ${SMOKE_DIR}/sample-bad)
add_test(NAME bad.sample_zero_n COMMAND ${EXPECT} 2 "flag --n: got '0'" ${APPS}/sample --model-dir ${SMOKE_DIR}/toy-ar
         --n 0 --out ${SMOKE_DIR}/sample-bad)
add_test(NAME bad.sample_unknown_sampler COMMAND ${EXPECT} 2 "flag --sampler: got 'euler'; expected one of" ${TOY_SAMPLE}
         --model-dir ${SMOKE_DIR}/toy-ar --sampler euler --out ${SMOKE_DIR}/sample-bad)
foreach(s pc ode edm)
  add_test(NAME app.compare.sampler_${s} COMMAND ${APPS}/compare --method ncsn,ddpm --dataset mog ${TINY} --no-plots
           --sampler ${s} --out ${SMOKE_DIR}/compare-${s})
endforeach()
add_test(NAME app.compare.sampler_mala COMMAND ${APPS}/compare --method ar,ncsn --score exact --dataset mog ${TINY} --no-plots
         --sampler mala --out ${SMOKE_DIR}/compare-mala)
add_test(NAME bad.mala_on_learned_score COMMAND ${EXPECT} 2 "method ncsn cannot use 'mala': it needs log_density" ${BAD}
         --method ncsn --sampler mala)

# The NCSN study's options (issue 14): each runs on a tiny config, bad values get one line.
add_test(NAME app.compare.ncsn_study_options COMMAND ${APPS}/compare --method ncsn --dataset mog ${TINY} --no-plots
         --objective ssm --projections 2 --projection rademacher --ssm-form full --score-weight one --sigma-spacing linear
         --alpha-rule sigma --level-steps more-small --out ${SMOKE_DIR}/ncsn-study-options)
add_test(NAME app.compare.sampler_mala_plain COMMAND ${APPS}/compare --method ar,ncsn --score exact --dataset mog ${TINY}
         --no-plots --sampler mala-plain --out ${SMOKE_DIR}/compare-mala-plain)
add_test(NAME app.dsm_estimators COMMAND ${APPS}/dsm_estimators --dataset mog --at-iters 1,5 --repeats 5 --exact-draws 2000
         --quadrature 5 --hidden 8 --depth 1 --batch-size 32 --threads 1 --quiet --out ${SMOKE_DIR}/dsm-estimators)
set_tests_properties(app.dsm_estimators PROPERTIES PASS_REGULAR_EXPRESSION "report: .*dsm-estimators/report.md")
add_test(NAME app.dsm_estimators.help COMMAND ${APPS}/dsm_estimators --help)
set_tests_properties(app.dsm_estimators.help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: dsm_estimators")
add_test(NAME bad.alpha_rule COMMAND ${EXPECT} 2 "flag --alpha-rule: got 'sigma3'; expected one of sigma2, constant, sigma"
         ${BAD} --method ncsn --alpha-rule sigma3)
add_test(NAME bad.level_steps COMMAND ${EXPECT} 2 "flag --level-steps: got 'more'" ${BAD} --method ncsn --level-steps more)
add_test(NAME bad.score_weight COMMAND ${EXPECT} 2 "flag --score-weight: got 'sigma2x'" ${BAD} --method ncsn --score-weight sigma2x)
add_test(NAME bad.projections_without_ssm COMMAND ${EXPECT} 2 "flag --projections: got '4'; expected 1 unless --objective ssm"
         ${BAD} --method ncsn --projections 4)
add_test(NAME bad.projection_kind COMMAND ${EXPECT} 2 "flag --projection: got 'sphere'" ${BAD} --method ncsn --objective ssm
         --projection sphere)
add_test(NAME bad.sigma_spacing COMMAND ${EXPECT} 2 "flag --sigma-spacing: got 'log'" ${BAD} --method ncsn --sigma-spacing log)
add_test(NAME bad.dsm_estimators_at_iters COMMAND ${EXPECT} 2 "flag --at-iters: got '5,1'; expected a comma-separated list"
         ${APPS}/dsm_estimators --at-iters 5,1 --out ${SMOKE_DIR}/bad-est)
add_test(NAME bad.dsm_estimators_exact_score COMMAND ${EXPECT} 2 "flag --score: got 'exact'; expected learned"
         ${APPS}/dsm_estimators --score exact --at-iters 1 --out ${SMOKE_DIR}/bad-est)
foreach(score exact learned)
  add_test(NAME app.compare.ncsn_condition_${score} COMMAND ${APPS}/compare --method ncsn --dataset mog-weights ${TINY}
           --no-plots --condition component --score ${score} --out ${SMOKE_DIR}/ncsn-condition-${score})
endforeach()
add_test(NAME bad.condition_with_ssm COMMAND ${EXPECT} 2 "flag --condition: got 'component'; expected none with --objective ssm"
         ${BAD} --method ncsn --condition component --objective ssm)
# Classifier-free guidance on the toy (issue 15): learned (label dropout, the null label) and exact scores.
add_test(NAME app.compare.ncsn_guidance_learned COMMAND ${APPS}/compare --method ncsn --dataset mog-weights ${TINY}
         --no-plots --condition component --label-dropout 0.2 --guidance-scale 2 --out ${SMOKE_DIR}/ncsn-guidance-learned)
add_test(NAME app.compare.ncsn_guidance_exact COMMAND ${APPS}/compare --method ncsn --dataset mog-weights ${TINY}
         --no-plots --condition component --score exact --guidance-scale 2 --out ${SMOKE_DIR}/ncsn-guidance-exact)
add_test(NAME bad.guidance_without_null_label COMMAND ${EXPECT} 2
         "flag --guidance-scale: got '2'; expected 0 unless --condition component with --label-dropout p > 0 or --score exact"
         ${BAD} --method ncsn --condition component --guidance-scale 2)
add_test(NAME bad.label_dropout_without_condition COMMAND ${EXPECT} 2
         "flag --label-dropout: got '0.1'; expected 0 unless --condition component" ${BAD} --method ncsn --label-dropout 0.1)
add_test(NAME bad.train_toy_condition COMMAND ${EXPECT} 2 "flag --condition: got 'class'; expected none for a mixture"
         ${APPS}/train --method ncsn --dataset mog --condition class --out ${SMOKE_DIR}/bad-train-condition)
# Blur smoothing (issue 15): the blur methods are rows of `compare --method all` above; their flag's errors.
add_test(NAME bad.toy_negative_blur_sigma COMMAND ${EXPECT} 2 "flag --blur-sigma: got '-1'" ${APPS}/compare ${TINY}
         --method smoothed-ar-blur --dataset mog --blur-sigma -1 --no-plots --out ${SMOKE_DIR}/bad)
add_test(NAME bad.train_blur_sigma_without_blur COMMAND ${EXPECT} 2
         "flag --blur-sigma: got '2'; expected 0 unless --method smoothed-ar-blur" ${APPS}/train --method smoothed-ar
         --dataset mnist --blur-sigma 2 --out ${SMOKE_DIR}/t)
# ARDM (issue 15): a row of `compare --method all` above; parallel decoding on the toy and its flags' errors.
add_test(NAME app.compare.ardm_parallel COMMAND ${APPS}/compare ${TINY} --method ardm --dataset mog --ardm-steps 1
         --ardm-bins 32 --no-plots --out ${SMOKE_DIR}/compare-ardm)
set_tests_properties(app.compare.ardm_parallel PROPERTIES PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.toy_ardm_bins COMMAND ${EXPECT} 2 "flag --ardm-bins: got '1'" ${APPS}/compare ${TINY}
         --method ardm --dataset mog --ardm-bins 1 --no-plots --out ${SMOKE_DIR}/bad)
add_test(NAME bad.toy_ardm_steps COMMAND ${EXPECT} 2 "flag --ardm-steps: got '-2'" ${APPS}/compare ${TINY}
         --method ardm --dataset mog --ardm-steps -2 --no-plots --out ${SMOKE_DIR}/bad)
# Classifier guidance on the toy (issue 15): a noise-aware classifier trained beside ncsn and ddpm, and the exact one.
add_test(NAME app.compare.classifier_guidance COMMAND ${APPS}/compare ${TINY} --method ncsn,ddpm --dataset mog-weights
         --classifier-scale 2 --no-plots --out ${SMOKE_DIR}/compare-classifier-guidance)
set_tests_properties(app.compare.classifier_guidance PROPERTIES PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME app.compare.classifier_guidance_exact COMMAND ${APPS}/compare ${TINY} --method ddpm --score exact
         --dataset mog-weights --classifier-scale 1 --sampler ddim --no-plots --out ${SMOKE_DIR}/compare-classifier-exact)
set_tests_properties(app.compare.classifier_guidance_exact PROPERTIES PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.classifier_scale_negative COMMAND ${EXPECT} 2 "flag --classifier-scale: got '-1'" ${APPS}/compare
         ${TINY} --method ncsn --dataset mog --classifier-scale -1 --no-plots --out ${SMOKE_DIR}/bad)
add_test(NAME bad.classifier_scale_conditional COMMAND ${EXPECT} 2 "flag --classifier-scale: got '1'; expected 0 with --condition component"
         ${APPS}/compare ${TINY} --method ncsn --dataset mog --condition component --classifier-scale 1 --no-plots
         --out ${SMOKE_DIR}/bad)
