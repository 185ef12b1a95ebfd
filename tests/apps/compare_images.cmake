# compare on images (issue 4): every method end to end on make_data.py's 64-image MNIST with tiny models,
# a one-epoch classifier, few samples and short samplers; then the same report again from the checkpoints.
set(CI_DIR ${CMAKE_BINARY_DIR}/compare-images)
set(CI_DATA ${CI_DIR}/data)
add_test(NAME app.compare_images.data COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/apps/make_data.py tiny-mnist ${CI_DATA})
set_tests_properties(app.compare_images.data PROPERTIES FIXTURES_SETUP compare_images_data)
set(CI_TINY ${CMAKE_BINARY_DIR}/apps/compare --dataset mnist --data-dir ${CI_DATA} --preset tiny --iters 2 --samples 4
    --classifier ${CI_DIR}/classifier.pt --classifier-epochs 1 --bound-images 8 --neighbours 2 --inpaint-images 2
    --steps-per-level 2 --sampler ddim --steps 3 --threads 1 --quiet --likelihood-images 2 --vlb-strata 3 --lik-rtol 1e-2
    --lik-atol 1e-2)
set(CI_TINY_NOITERS ${CMAKE_BINARY_DIR}/apps/compare --dataset mnist --data-dir ${CI_DATA} --preset tiny --samples 4
    --classifier ${CI_DIR}/classifier.pt --classifier-epochs 1 --bound-images 8 --neighbours 2 --inpaint-images 1
    --sampler ddim --steps 3 --threads 1 --quiet --likelihood-images 0)
add_test(NAME app.compare_images.all COMMAND ${CI_TINY} --method all --out ${CI_DIR}/all)
set_tests_properties(app.compare_images.all PROPERTIES FIXTURES_REQUIRED compare_images_data
                     FIXTURES_SETUP compare_images_all PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME app.compare_images.from_checkpoints COMMAND ${CI_TINY} --method ar,ddpm
         --from-checkpoints ${CI_DIR}/all/checkpoints --out ${CI_DIR}/again)
set_tests_properties(app.compare_images.from_checkpoints PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
# One --sampler for every score row where it fits (issue 11): edm runs on the NCSN and the DDPM nets.
add_test(NAME app.compare_images.sampler_edm COMMAND ${CMAKE_BINARY_DIR}/apps/compare --dataset mnist --data-dir ${CI_DATA}
         --preset tiny --samples 4 --classifier ${CI_DIR}/classifier.pt --bound-images 8 --neighbours 2 --inpaint-images 1
         --sampler edm --steps 3 --threads 1 --quiet --likelihood-images 0 --method ncsn,ddpm --from-checkpoints ${CI_DIR}/all/checkpoints
         --out ${CI_DIR}/edm)
set_tests_properties(app.compare_images.sampler_edm PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.compare_images.unknown_denoiser COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --denoisers: got 'tweedie'" ${CI_TINY} --denoisers tweedie --out ${CI_DIR}/bad)
add_test(NAME bad.compare_images.missing_checkpoints COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --from-checkpoints: got '/nonexistent'" ${CI_TINY} --from-checkpoints /nonexistent --out ${CI_DIR}/bad)
# Same seed, same CPU build: the whole image comparison (training, every sampler, the classifier, FD/KID,
# inpainting) writes a byte-identical metrics.json (issue 6). Both runs load the classifier the test above
# trained, so neither of them trains it (metrics.json records which run did).
add_test(NAME rel.determinism_compare_images COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/determinism.sh ${CI_DIR}/det
         -- ${CI_TINY} --method all)
set_tests_properties(rel.determinism_compare_images PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
add_test(NAME bad.compare_images.negative_classifier_epochs COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --classifier-epochs: got '-1'; expected an integer >= 0" ${CMAKE_BINARY_DIR}/apps/compare --dataset mnist
         --data-dir ${CI_DATA} --classifier-epochs -1 --out ${CI_DIR}/bad)
# sample (issue 11): every score sampler on the tiny MNIST models compare trained above, in batches; mala is
# refused for a score-only model; same seed, same metrics.json.
set(SAMPLE ${CMAKE_BINARY_DIR}/apps/sample --n 3 --batch-size 2 --steps 3 --steps-per-level 1 --threads 1 --quiet)
foreach(s ddpm ddim pc ode edm)
  add_test(NAME app.sample.mnist_ddpm_${s} COMMAND ${SAMPLE} --model-dir ${CI_DIR}/all/checkpoints/ddpm --sampler ${s}
           --out ${CI_DIR}/sample-ddpm-${s})
  set_tests_properties(app.sample.mnist_ddpm_${s} PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                       PASS_REGULAR_EXPRESSION "3 samples")
endforeach()
foreach(s annealed-langevin langevin pc ode edm)
  add_test(NAME app.sample.mnist_ncsn_${s} COMMAND ${SAMPLE} --model-dir ${CI_DIR}/all/checkpoints/ncsn --sampler ${s}
           --out ${CI_DIR}/sample-ncsn-${s})
  set_tests_properties(app.sample.mnist_ncsn_${s} PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                       PASS_REGULAR_EXPRESSION "3 samples")
endforeach()
add_test(NAME app.sample.mnist_ar COMMAND ${SAMPLE} --model-dir ${CI_DIR}/all/checkpoints/ar --out ${CI_DIR}/sample-ar)
set_tests_properties(app.sample.mnist_ar PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                     PASS_REGULAR_EXPRESSION "3 samples")
add_test(NAME bad.sample.mala_on_score_model COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --sampler: method ncsn cannot use 'mala': it needs log_density" ${SAMPLE}
         --model-dir ${CI_DIR}/all/checkpoints/ncsn --sampler mala --out ${CI_DIR}/sample-bad)
set_tests_properties(bad.sample.mala_on_score_model PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
add_test(NAME rel.determinism_sample COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/determinism.sh ${CI_DIR}/det-sample
         -- ${SAMPLE} --model-dir ${CI_DIR}/all/checkpoints/ddpm --sampler pc)
set_tests_properties(rel.determinism_sample PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
# evaluate (issue 12): every image method's likelihood kinds on the tiny models (2 test images, loose ODE
# tolerances, a stratified bound), in bits/dim.
set(EVAL ${CMAKE_BINARY_DIR}/apps/evaluate --images 2 --data-dir ${CI_DATA} --threads 1 --lik-rtol 1e-2 --lik-atol 1e-2
    --vlb-strata 3)
set(CKPT ${CI_DIR}/all/checkpoints)
foreach(spec "ar;exact;" "ncsn;ode;" "ddpm;bound;" "ddpm;ode;"
        "smoothed-ar-stage1;bound;--stage2-dir;${CI_DIR}/all/checkpoints/smoothed-ar-stage2-stacked")
  list(GET spec 0 model)
  list(GET spec 1 kind)
  list(SUBLIST spec 2 -1 extra)
  add_test(NAME app.evaluate.mnist_${model}_${kind} COMMAND ${EVAL} --model-dir ${CKPT}/${model} ${extra} --likelihood ${kind}
           --out ${CI_DIR}/eval-${model}-${kind})
  set_tests_properties(app.evaluate.mnist_${model}_${kind} PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                       PASS_REGULAR_EXPRESSION "bits/dim on the 8-bit scale")
endforeach()
add_test(NAME bad.evaluate_bound_without_stage2 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --stage2-dir: the two-stage bound of smoothed-ar needs the stage-2 model" ${EVAL}
         --model-dir ${CKPT}/smoothed-ar-stage1 --out ${CI_DIR}/eval-bad)
set_tests_properties(bad.evaluate_bound_without_stage2 PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
# scripts/reproduce (issue 16) at tiny scale on the CPU: the paper reproduction's pipeline and settings (both stages,
# every baseline, the authors' samplers, evaluation with intervals), with tiny models and short samplers.
add_test(NAME app.reproduce_tiny COMMAND ${PROJECT_SOURCE_DIR}/scripts/reproduce mnist --data-dir ${CI_DATA} --preset tiny
         --iters 2 --samples 6 --classifier ${CI_DIR}/classifier.pt --classifier-epochs 1 --bound-images 8 --neighbours 2
         --inpaint-images 1 --steps-per-level 2 --sampler ddim --steps 3 --likelihood-images 2 --vlb-strata 3
         --lik-rtol 1e-2 --lik-atol 1e-2 --bootstrap 20 --threads 1 --quiet --out ${CI_DIR}/reproduce)
set_tests_properties(app.reproduce_tiny PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                     ENVIRONMENT "SCORELAB_APPS=${CMAKE_BINARY_DIR}/apps"
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.reproduce_dataset COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "got dataset 'celeba'; expected mnist or cifar10" ${PROJECT_SOURCE_DIR}/scripts/reproduce celeba)
# --seeds K: K comparisons and their mean and std (2 seeds, from the models trained above, no training).
add_test(NAME app.compare_images.seeds COMMAND ${CI_TINY} --method ar --seeds 2 --bootstrap 10 --out ${CI_DIR}/seeds)
set_tests_properties(app.compare_images.seeds PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
# --budget-iters (issue 16): every model trained once, evaluated after 1 and then 2 iterations (resumed), curves.
# A fresh folder each run: checkpoints left past a budget by an earlier run are refused (as they should be).
add_test(NAME app.compare_images.budget_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${CI_DIR}/budget)
set_tests_properties(app.compare_images.budget_clean PROPERTIES FIXTURES_SETUP compare_images_budget_clean)
add_test(NAME app.compare_images.budget_curves COMMAND ${CI_TINY_NOITERS} --method ar,ddpm --budget-iters 1,2
         --bootstrap 10 --out ${CI_DIR}/budget)
set_tests_properties(app.compare_images.budget_curves PROPERTIES FIXTURES_REQUIRED
                     "compare_images_data;compare_images_all;compare_images_budget_clean"
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
# A rerun with a longer list reuses the finished budgets (their checkpoints are past them) and resumes at 3.
add_test(NAME app.compare_images.budget_extend COMMAND ${CI_TINY_NOITERS} --method ar,ddpm --budget-iters 1,2,3
         --bootstrap 10 --out ${CI_DIR}/budget)
set_tests_properties(app.compare_images.budget_extend PROPERTIES FIXTURES_REQUIRED
                     "compare_images_data;compare_images_all;compare_images_budget_clean" DEPENDS app.compare_images.budget_curves
                     PASS_REGULAR_EXPRESSION "budget 1 iterations: reusing .*budget 2 iterations: reusing .*budget 3 iterations -> .*report: .*/report.md")
add_test(NAME bad.compare_images.budget_order COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --budget-iters: got '5,2'; expected a comma-separated list of increasing" ${CI_TINY_NOITERS}
         --budget-iters 5,2 --out ${CI_DIR}/bad)
# Issue 14, experiments 10 and 11: the ncsn row on the U-Net with an NCSN head, and class-conditional (NCSNv2 and
# U-Net); a conditional row reports label_agreement and has no likelihood or inpainting.
set(CI_NCSN ${CMAKE_BINARY_DIR}/apps/compare --dataset mnist --data-dir ${CI_DATA} --preset tiny --iters 2 --samples 4
    --classifier ${CI_DIR}/classifier.pt --classifier-epochs 1 --neighbours 2 --inpaint-images 1 --steps-per-level 2
    --threads 1 --quiet --likelihood-images 2 --lik-rtol 1e-2 --lik-atol 1e-2)
foreach(variant "unet;none" "unet;class" "ncsnv2;class")
  list(GET variant 0 net)
  list(GET variant 1 cond)
  add_test(NAME app.compare_images.ncsn_${net}_${cond} COMMAND ${CI_NCSN} --method ncsn --score-net ${net}
           --condition ${cond} --out ${CI_DIR}/ncsn-${net}-${cond})
  set_tests_properties(app.compare_images.ncsn_${net}_${cond} PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                       PASS_REGULAR_EXPRESSION "report: .*/report.md")
endforeach()
add_test(NAME app.compare_images.ncsn_class_agreement COMMAND grep -q "\"label_agreement\"" ${CI_DIR}/ncsn-unet-class/metrics.json)
set_tests_properties(app.compare_images.ncsn_class_agreement PROPERTIES DEPENDS app.compare_images.ncsn_unet_class)
add_test(NAME bad.compare_images.condition_without_ncsn COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --condition: got 'class'; expected none unless --method includes ncsn or ddpm" ${CI_TINY} --method ar
         --condition class --out ${CI_DIR}/bad)
add_test(NAME bad.compare_images.unknown_score_net COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --score-net: got 'resnet'" ${CI_TINY} --method ncsn --score-net resnet --out ${CI_DIR}/bad)
# interpolate (issue 15): slerp between two noises of the tiny ddpm and ncsn models, decoded by DDIM and the ODE;
# a model without noise (ar) and a stochastic sampler are refused.
foreach(m ddpm ncsn)
  add_test(NAME app.interpolate.${m} COMMAND ${CMAKE_BINARY_DIR}/apps/interpolate --model-dir ${CI_DIR}/all/checkpoints/${m}
           --pairs 2 --points 3 --steps 3 --ode-solver heun --threads 1 --out ${CI_DIR}/interpolate-${m})
  set_tests_properties(app.interpolate.${m} PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                       PASS_REGULAR_EXPRESSION "2 x 3 frames")
endforeach()
add_test(NAME bad.interpolate.ar_model COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --model-dir: got '.*'; expected a model of ncsn or ddpm" ${CMAKE_BINARY_DIR}/apps/interpolate
         --model-dir ${CI_DIR}/all/checkpoints/ar --out ${CI_DIR}/interpolate-bad)
add_test(NAME bad.interpolate.stochastic_sampler COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --sampler: got 'ddim'; expected a deterministic sampler" ${CMAKE_BINARY_DIR}/apps/interpolate
         --model-dir ${CI_DIR}/all/checkpoints/ddpm --sampler ddim --eta 1 --steps 3 --pairs 1 --points 2 --threads 1 --out ${CI_DIR}/interpolate-bad)
set_tests_properties(bad.interpolate.ar_model bad.interpolate.stochastic_sampler PROPERTIES
                     FIXTURES_REQUIRED "compare_images_data;compare_images_all")
# Issue 15: a class-conditional ddpm with label dropout (classifier-free guidance at w = 2; its null label gives the
# likelihood and the inpainting), and guidance refused where it cannot apply.
add_test(NAME app.compare_images.ddpm_guided COMMAND ${CI_NCSN} --method ddpm --condition class --label-dropout 0.2
         --guidance-scale 2 --sampler ddim --steps 3 --out ${CI_DIR}/ddpm-guided)
set_tests_properties(app.compare_images.ddpm_guided PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all"
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.compare_images.guidance_without_label_dropout COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --guidance-scale: got '2'; expected 0 unless --condition class --label-dropout p > 0" ${CI_TINY}
         --method ddpm --condition class --guidance-scale 2 --out ${CI_DIR}/bad)
add_test(NAME bad.sample.guidance_on_unconditional COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --guidance-scale: got '1.5'; expected 0 for this model" ${SAMPLE} --model-dir ${CI_DIR}/all/checkpoints/ddpm
         --guidance-scale 1.5 --out ${CI_DIR}/sample-bad)
set_tests_properties(bad.sample.guidance_on_unconditional PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
# Blur smoothing (issue 15) at another blur: both blur methods, their exact likelihood / bound and inpainting.
add_test(NAME app.compare_images.blur COMMAND ${CI_TINY} --method smoothed-ar-blur,smoothed-ar-blur-noise
         --blur-sigma 0.7 --out ${CI_DIR}/blur)
set_tests_properties(app.compare_images.blur PROPERTIES FIXTURES_REQUIRED compare_images_data
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
# ARDM (issue 15) against PixelCNN++ on the left-half mask (any order vs raster order), with parallel decoding.
add_test(NAME app.compare_images.ardm_left_half COMMAND ${CI_TINY} --method ardm,ar --mask left-half --ardm-steps 50
         --out ${CI_DIR}/ardm)
set_tests_properties(app.compare_images.ardm_left_half PROPERTIES FIXTURES_REQUIRED compare_images_data
                     PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME bad.compare_images.ardm_steps COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --ardm-steps: got '-1'" ${CI_TINY} --method ardm --ardm-steps -1 --out ${CI_DIR}/bad)
add_test(NAME bad.compare_images.blur_sigma_without_blur COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --blur-sigma: got '2'; expected 0 unless --method includes smoothed-ar-blur" ${CI_TINY} --method ar
         --blur-sigma 2 --out ${CI_DIR}/bad)
# Classifier guidance on images (issue 15): unconditional ncsn and ddpm guided by noise-aware classifiers trained here
# (a few steps), then `sample` with the ddpm's classifier; guidance refused where it cannot apply.
add_test(NAME app.compare_images.classifier_guided COMMAND ${CI_TINY} --method ncsn,ddpm --classifier-scale 2
         --guide-classifier-iters 5 --out ${CI_DIR}/classifier-guided)
set_tests_properties(app.compare_images.classifier_guided PROPERTIES FIXTURES_REQUIRED compare_images_data
                     FIXTURES_SETUP compare_images_classifier_guided PASS_REGULAR_EXPRESSION "report: .*/report.md")
add_test(NAME app.sample.classifier_guided COMMAND ${SAMPLE} --model-dir ${CI_DIR}/classifier-guided/checkpoints/ddpm
         --classifier-scale 2 --guide-classifier ${CI_DIR}/classifier-guided/checkpoints/ddpm-guide-classifier
         --sampler ddim --out ${CI_DIR}/sample-classifier-guided)
add_test(NAME bad.sample.guide_classifier_of_another_model COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --guide-classifier: got '.*ncsn-guide-classifier'; expected a classifier for this model" ${SAMPLE}
         --model-dir ${CI_DIR}/classifier-guided/checkpoints/ddpm --classifier-scale 2
         --guide-classifier ${CI_DIR}/classifier-guided/checkpoints/ncsn-guide-classifier --out ${CI_DIR}/sample-bad)
set_tests_properties(app.sample.classifier_guided bad.sample.guide_classifier_of_another_model PROPERTIES
                     FIXTURES_REQUIRED "compare_images_data;compare_images_classifier_guided")
add_test(NAME bad.compare_images.classifier_scale_without_score_method COMMAND
         ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --classifier-scale: got '1'; expected 0 unless --method includes ncsn or ddpm" ${CI_TINY} --method ar
         --classifier-scale 1 --out ${CI_DIR}/bad)
add_test(NAME bad.sample.classifier_scale_without_classifier COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 2
         "flag --guide-classifier: got ''; expected a noise-aware classifier folder" ${SAMPLE}
         --model-dir /nonexistent --classifier-scale 1 --out ${CI_DIR}/sample-bad)
add_test(NAME bad.sample.guide_classifier_missing COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/apps/expect_error.sh 3
         "--guide-classifier /nonexistent: no noise-aware classifier there" ${SAMPLE}
         --model-dir ${CI_DIR}/all/checkpoints/ddpm --classifier-scale 1 --guide-classifier /nonexistent
         --out ${CI_DIR}/sample-bad)
set_tests_properties(bad.sample.guide_classifier_missing PROPERTIES FIXTURES_REQUIRED "compare_images_data;compare_images_all")
