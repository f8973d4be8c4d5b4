# `study run` then `study analyze` from the command line on generated images and the tiny test ViT.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT}/male ${OUT}/female)
foreach(set male female)
  foreach(i 1 2 3)
    if(set STREQUAL "female")
      math(EXPR seed "${i} + 10")
    else()
      set(seed ${i})
    endif()
    execute_process(COMMAND ${CLI} make-demo --seed ${seed} --out ${OUT}/gen${seed} RESULT_VARIABLE rc OUTPUT_QUIET)
    file(COPY_FILE ${OUT}/gen${seed}/synthetic.png ${OUT}/${set}/img${i}.png)
  endforeach()
endforeach()
file(WRITE ${OUT}/study.json "{\"name\": \"cli\", \"heads\": [{\"name\": \"imagenet\", \"path\": \"${DATA}/tiny-vit\"}, {\"name\": \"gender\", \"path\": \"${DATA}/tiny-vit/model.safetensors\"}],
 \"targets\": [{\"name\": \"a\", \"head\": \"imagenet\", \"class\": 2}, {\"name\": \"b\", \"head\": \"imagenet\", \"class\": 4},
   {\"name\": \"gender_male\", \"head\": \"gender\", \"class\": 1}, {\"name\": \"gender_female\", \"head\": \"gender\", \"class\": 0}],
 \"image_sets\": [{\"name\": \"male\", \"folder\": \"male\", \"reference_target\": \"gender_male\"}, {\"name\": \"female\", \"folder\": \"female\", \"reference_target\": \"gender_female\"}],
 \"readout\": \"gradient\"}")
execute_process(COMMAND ${CLI} study run ${OUT}/study.json --out ${OUT}/store RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "6 computed")
  message(FATAL_ERROR "study run failed (${rc}): ${out} ${err}")
endif()
execute_process(COMMAND ${CLI} study analyze ${OUT}/store --threshold 0 --format svg --significance fade RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "study analyze failed (${rc}): ${err}")
endif()
foreach(f ttests.csv similarity.csv consistency.csv confidence.csv analysis-settings.json pairwise_male_final_results.csv
          top50_global_results.csv unmasked_consistency.svg similarity_male_final.svg sem_female_intermediate.svg similarity_female_final.svg.json)
  if(NOT EXISTS ${OUT}/store/analysis/${f})
    message(FATAL_ERROR "study analyze did not write ${f}")
  endif()
endforeach()
