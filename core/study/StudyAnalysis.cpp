#include "study/StudyAnalysis.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "analysis/LabelTTests.h"
#include "analysis/NeuronTests.h"
#include "analysis/RelevanceSimilarity.h"
#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Csv.h"
#include "io/Safetensors.h"
#include "io/ImageIO.h"
#include "study/NeuronTestTable.h"
#include "study/StudyDefinition.h"
#include "study/StudyRunner.h"
#include "study/StudyStore.h"

namespace biasscope::study {

namespace fs = std::filesystem;
using analysis::LabelTest;
using io::csvField;
using analysis::RelevanceTensorView;

namespace {

// One set and site: normalised vectors [images][labels + own reference][layers][features]
struct SetSite {
    std::vector<float> data;
    int images = 0, targets = 0, layers = 0, features = 0;
    RelevanceTensorView view() const { return {data.data(), images, targets, layers, features}; }
};

struct LoadedSet {
    const ImageSetSpec* spec = nullptr;
    std::vector<std::string> imageNames;
    std::vector<double> confidence;
    // per image and target (targetOrder): [logit, pixels, CLS, position, biases], empty where the record has none
    std::vector<std::vector<std::vector<double>>> accounting;
    std::map<std::string, SetSite> sites;  // site name -> tensor
};

std::string num(double v) {
    std::ostringstream os;
    os << std::setprecision(17) << v;
    return os.str();
}

// Four CSV fields: the percentile and BCa ends; empty when no bootstrap ran, nan where undefined.
std::string ciFields(const analysis::BootstrapCi& ci) {
    if (ci.resamples == 0) return ",,,";
    return num(ci.percentile.low) + "," + num(ci.percentile.high) + "," + num(ci.bca.low) + "," + num(ci.bca.high);
}

// The record files of one set of a store, sorted by name; `what` names them in errors.
std::vector<fs::path> setRecordFiles(const std::string& storeDir, const ImageSetSpec& spec, const std::string& what, const std::string& hint) {
    const fs::path dir = fs::path(storeDir) / "relevance" / spec.name;
    if (!fs::is_directory(dir)) throw InputError(dir.string() + ": no " + what + " for set '" + spec.name + "'" + hint);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".safetensors") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw InputError(dir.string() + ": no " + what);
    return files;
}

// One record's tensors by key, and its (finite) confidence.
struct StoredRecord {
    fs::path file;
    std::map<std::string, at::Tensor> tensors;
    std::string missingHint;
    std::map<std::string, std::string> metadata;
    StoredRecord(const fs::path& f, std::string hint) : file(f), missingHint(std::move(hint)) {
        const auto rec = io::readSafetensors(f.string());
        tensors.insert(rec.tensors.begin(), rec.tensors.end());
        metadata = rec.metadata;
    }
    std::string meta(const std::string& key) const {
        const auto it = metadata.find(key);
        return it == metadata.end() ? std::string() : it->second;
    }
    const at::Tensor& get(const std::string& key) const {
        auto it = tensors.find(key);
        if (it == tensors.end()) throw InputError(file.string() + ": missing tensor '" + key + "'" + missingHint);
        return it->second;
    }
    double confidence() const {
        const double c = get("confidence").to(torch::kFloat64).item<double>();
        if (!std::isfinite(c)) throw InputError(file.string() + ": confidence is NaN");
        return c;
    }
};

// Every record of a store must come from one computation: the study's parameters, one model, and an image
// that is still in its set's folder (where the folder is on this machine). `study merge` checks the same.
struct StoreAgreement {
    std::string paramsKey, modelKey, modelFrom;
    void check(const StoredRecord& rec, const ImageSetSpec& spec, const std::set<std::string>& folderStems, bool folderHere) {
        const std::string p = rec.meta("params_key"), m = rec.meta("model_key");
        if (p != paramsKey)
            throw InputError(rec.file.string() + ": computed with other relevance parameters (params_key " + (p.empty() ? "missing" : p) + ", the study's " +
                             paramsKey + "): re-run `study run` on this store or remove the record");
        if (modelFrom.empty()) {
            modelKey = m;
            modelFrom = rec.file.string();
        } else if (m != modelKey) {
            throw InputError(rec.file.string() + ": computed with another model (model_key " + m + ") than " + modelFrom + " (" + modelKey + ")");
        }
        if (folderHere && !folderStems.count(rec.file.stem().string()))
            throw InputError(rec.file.string() + ": its image is no longer in set '" + spec.name + "' (" + spec.folder + "); remove the record or restore the image");
    }
};

LoadedSet loadSet(const std::string& storeDir, const ImageSetSpec& spec, const std::vector<std::string>& targetOrder, const std::vector<std::string>& sites,
                  StoreAgreement& agreement) {
    LoadedSet set;
    set.spec = &spec;
    const bool folderHere = fs::is_directory(spec.folder);
    std::set<std::string> stems;
    if (folderHere)
        for (const auto& f : io::listImageFiles(spec.folder)) stems.insert(fs::path(f).stem().string());
    for (const auto& f : setRecordFiles(storeDir, spec, "stored relevance", " (run `study run` first)")) {
        const StoredRecord rec(f, " (stored with another study definition?)");
        agreement.check(rec, spec, stems, folderHere);
        auto get = [&rec](const std::string& key) -> const at::Tensor& { return rec.get(key); };
        set.imageNames.push_back(f.stem().string());
        set.confidence.push_back(rec.confidence());
        set.accounting.emplace_back();
        for (const auto& target : targetOrder) {
            const auto it = rec.tensors.find(target + "/accounting");
            std::vector<double> a;
            if (it != rec.tensors.end()) {
                const at::Tensor t = it->second.to(torch::kFloat64).contiguous();
                if (t.numel() != 5) throw InputError(f.string() + ": '" + target + "/accounting' has " + std::to_string(t.numel()) + " values, expected 5");
                a.assign(t.data_ptr<double>(), t.data_ptr<double>() + 5);
            }
            set.accounting.back().push_back(std::move(a));
        }
        for (const auto& site : sites) {
            SetSite& ss = set.sites[site];
            for (const auto& target : targetOrder) {
                at::Tensor v = get(target + "/" + site).to(torch::kFloat32).contiguous();  // [layers, features]
                if (ss.layers == 0) {
                    ss.layers = static_cast<int>(v.size(0));
                    ss.features = static_cast<int>(v.size(1));
                    ss.targets = static_cast<int>(targetOrder.size());
                } else if (v.size(0) != ss.layers || v.size(1) != ss.features) {
                    throw InputError(f.string() + ": '" + target + "/" + site + "' has shape " + c10::str(v.sizes()) + ", other records have [" +
                                     std::to_string(ss.layers) + ", " + std::to_string(ss.features) + "]");
                }
                if (!torch::isfinite(v).all().item<bool>()) throw InputError(f.string() + ": '" + target + "/" + site + "' contains NaN or inf");
                const at::Tensor m = v.abs().amax(1, true);
                v = v / torch::where(m > 0, m, torch::ones_like(m));  // per-layer abs-max normalisation (published)
                ss.data.insert(ss.data.end(), v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
            }
            ++ss.images;
        }
    }
    return set;
}

std::vector<int> passingImages(const LoadedSet& s, double threshold) {
    std::vector<int> out;
    for (std::size_t i = 0; i < s.confidence.size(); ++i)
        if (s.confidence[i] >= threshold) out.push_back(static_cast<int>(i));
    return out;
}

// Per set: every image's top-k neurons of the reference target per site and layer (all images; the
// threshold is applied when tables are written). Built from full records or read from imported ones.
struct RankedSet {
    std::string name, condition;
    std::vector<std::string> imageNames;
    std::vector<double> confidence;
    std::map<std::string, std::vector<std::vector<std::vector<int>>>> topK;      // site -> [image][layer][k]
    std::map<std::string, std::vector<std::vector<std::vector<double>>>> value;  // site -> [image][layer][k], normalised; NaN if unknown
};

RankedSet rankFull(const LoadedSet& s, const std::vector<std::string>& sites, int referenceIndex, int k, analysis::RankBy rankBy) {
    RankedSet r{s.spec->name, s.spec->condition, s.imageNames, s.confidence, {}, {}};
    for (const auto& site : sites) {
        const auto v = s.sites.at(site).view();
        for (int img = 0; img < v.images; ++img) {
            std::vector<std::vector<int>> idx;
            std::vector<std::vector<double>> val;
            for (int l = 0; l < v.layers; ++l) {
                const float* vec = v.vector(img, referenceIndex, l);
                idx.push_back(analysis::topKNeurons(vec, v.features, k, rankBy));
                val.emplace_back();
                for (int n : idx.back()) val.back().push_back(vec[n]);
            }
            r.topK[site].push_back(std::move(idx));
            r.value[site].push_back(std::move(val));
        }
    }
    return r;
}

// Records written by `study import-published`: the published top-k lists, used as they are.
RankedSet readImported(const std::string& storeDir, const ImageSetSpec& spec, const std::vector<std::string>& sites, int k, analysis::RankBy rankBy) {
    if (rankBy != analysis::RankBy::Magnitude)
        throw InputError(storeDir + ": an imported store holds the published |value| rankings only; --signed needs a `study run` store");
    RankedSet r{spec.name, spec.condition, {}, {}, {}, {}};
    for (const auto& f : setRecordFiles(storeDir, spec, "imported records", "")) {
        const StoredRecord rec(f, "");
        auto get = [&rec](const std::string& key) -> const at::Tensor& { return rec.get(key); };
        r.confidence.push_back(rec.confidence());
        r.imageNames.push_back(f.stem().string());
        for (const auto& site : sites) {
            const at::Tensor idx = get(spec.referenceTarget + "/" + site + "_topk_index").to(torch::kInt64).contiguous();
            const at::Tensor val = get(spec.referenceTarget + "/" + site + "_topk_score").to(torch::kFloat64).contiguous();
            if (idx.dim() != 2 || val.sizes() != idx.sizes()) throw InputError(f.string() + ": top-k tensors of '" + site + "' have inconsistent shapes");
            if (idx.size(1) < k)
                throw InputError(f.string() + ": the published run stored " + std::to_string(idx.size(1)) + " neurons per layer; top-k " + std::to_string(k) +
                                 " cannot be recovered from it");
            std::vector<std::vector<int>> ii(static_cast<std::size_t>(idx.size(0)));
            std::vector<std::vector<double>> vv(ii.size());
            for (long l = 0; l < idx.size(0); ++l)
                for (long j = 0; j < k; ++j) {
                    ii[static_cast<std::size_t>(l)].push_back(static_cast<int>(idx[l][j].item<std::int64_t>()));
                    vv[static_cast<std::size_t>(l)].push_back(val[l][j].item<double>());
                }
            r.topK[site].push_back(std::move(ii));
            r.value[site].push_back(std::move(vv));
        }
    }
    return r;
}

// confidence.csv, consistency.csv and topk_neurons.csv (passing images only in the last two).
void writeRankingTables(const std::vector<RankedSet>& sets, const std::vector<std::string>& sites, double threshold, AnalysisReport& report,
                        const std::function<void(const std::string&, const std::string&)>& write, const analysis::BootstrapOptions* ciOptions,
                        const JobControl& job) {
    std::ostringstream conf, cons, top;
    conf << "set,image,confidence,passes\n";
    cons << "set,site,layer,consistency_percent,neuron,count,images,ci_percentile_low,ci_percentile_high,ci_bca_low,ci_bca_high\n";
    top << "set,image,site,layer,rank,neuron,normalised_value\n";
    for (const auto& s : sets) {
        std::vector<int> pass;
        for (std::size_t i = 0; i < s.imageNames.size(); ++i) {
            conf << s.name << "," << csvField(s.imageNames[i]) << "," << num(s.confidence[i]) << "," << (s.confidence[i] >= threshold ? "true" : "false") << "\n";
            if (s.confidence[i] >= threshold) pass.push_back(static_cast<int>(i));
        }
        if (pass.empty()) {
            report.warnings.push_back("set '" + s.name + "': no image has confidence >= " + num(threshold) + "; it is left out of consistency and tests");
            continue;
        }
        report.passingImages[s.name] = static_cast<int>(pass.size());
        for (const auto& site : sites) {
            std::vector<std::vector<std::vector<int>>> topK;
            for (int img : pass) {
                topK.push_back(s.topK.at(site)[static_cast<std::size_t>(img)]);
                const auto& layers = topK.back();
                for (std::size_t l = 0; l < layers.size(); ++l)
                    for (std::size_t r = 0; r < layers[l].size(); ++r)
                        top << s.name << "," << csvField(s.imageNames[static_cast<std::size_t>(img)]) << "," << site << "," << l << "," << r + 1 << ","
                            << layers[l][r] << "," << num(s.value.at(site)[static_cast<std::size_t>(img)][l][r]) << "\n";
            }
            const auto c = analysis::neuronConsistency(topK);
            for (const auto& pt : c) report.consistency[s.name][site].push_back(pt.percent);
            job.checkCancelled();
            std::vector<analysis::BootstrapCi> ci(c.size());
            if (ciOptions) report.consistencyCi[s.name][site] = ci = analysis::neuronConsistencyCi(topK, *ciOptions);
            for (std::size_t l = 0; l < c.size(); ++l)
                cons << s.name << "," << site << "," << l << "," << num(c[l].percent) << "," << c[l].neuron << "," << c[l].count << "," << c[l].images << ","
                     << ciFields(ci[l]) << "\n";
        }
    }
    write("confidence.csv", conf.str());
    write("consistency.csv", cons.str());
    write("topk_neurons.csv", top.str());
}

void appendTests(std::ostringstream& csv, const std::string& family, const std::string& group, const std::string& site, const std::vector<LabelTest>& tests,
                 const std::vector<std::string>& labels, analysis::TestUnit unit) {
    for (const auto& t : tests) {
        const auto& r = t.result;
        csv << family << analysis::familySuffix(unit) << "," << group << "," << site << "," << t.layer << "," << labels[static_cast<std::size_t>(t.label1)] << ","
            << (t.label2 >= 0 ? labels[static_cast<std::size_t>(t.label2)] : "") << "," << r.nX << "," << r.nY << "," << num(r.t) << "," << num(r.dof) << ","
            << num(r.p) << "," << num(t.q) << "," << (t.significant ? "true" : "false") << "," << num(r.cohenD) << "," << num(r.meanX) << ","
            << num(r.meanY) << "," << (r.welch ? "welch" : (t.label2 >= 0 ? "paired" : "student")) << "," << csvField(r.invalidReason) << "," << num(t.d) << ","
            << ciFields(t.dCi) << "," << csvField(analysis::toString(unit)) << "\n";
    }
}

// The published test families at one threshold and top-k: paired per (set, site), independent per
// (condition, site), BH jointly within each.
struct Families {
    std::vector<std::pair<std::string, std::string>> pairedKeys, indKeys;  // (set or condition, site)
    std::vector<std::vector<LabelTest>> paired, independent;
};

Families testFamilies(const std::vector<LoadedSet>& sets, const std::map<std::string, std::vector<const LoadedSet*>>& byCondition,
                      const std::vector<std::string>& sites, int L, double threshold, const analysis::TopKOptions& topk, const JobControl& job) {
    std::vector<int> labelIdx(static_cast<std::size_t>(L));
    for (int i = 0; i < L; ++i) labelIdx[static_cast<std::size_t>(i)] = i;
    Families f;
    for (const auto& s : sets)
        for (const auto& site : sites) {
            job.checkCancelled();
            const auto pass = passingImages(s, threshold);
            if (pass.empty()) continue;
            f.paired.push_back(analysis::pairedLabelTests(s.sites.at(site).view(), pass, L, labelIdx, topk));
            f.pairedKeys.emplace_back(s.spec->name, site);
        }
    for (const auto& [condition, members] : byCondition) {
        if (members.size() != 2) continue;
        for (const auto& site : sites) {
            job.checkCancelled();
            const auto px = passingImages(*members[0], threshold), py = passingImages(*members[1], threshold);
            if (px.empty() || py.empty()) continue;
            f.independent.push_back(
                analysis::independentLabelTests(members[0]->sites.at(site).view(), px, L, members[1]->sites.at(site).view(), py, L, labelIdx, topk));
            f.indKeys.emplace_back(condition, site);
        }
    }
    std::vector<std::vector<LabelTest>*> pf, inf;
    for (auto& p : f.paired) pf.push_back(&p);
    for (auto& p : f.independent) inf.push_back(&p);
    analysis::applyJointFdr(pf);
    analysis::applyJointFdr(inf);
    return f;
}


// The published table layout (pairwise_ttest/<set>_<site>_results.csv, ind_ttest/<condition>_<site>_results.csv):
// significant cells only, "t=.. p=.. q=.. d=.." per layer, rows in label order, with exact numbers instead of
// 4-decimal strings. The published header's first cell reads "True" (a pandas artefact); ours names the column.
std::string publishedTable(const std::vector<LabelTest>& tests, const std::vector<std::string>& labels, int layers, bool paired) {
    std::vector<std::string> order;
    std::map<std::string, std::map<int, std::string>> rows;
    for (const auto& t : tests) {
        if (!t.significant) continue;
        const std::string row = paired ? labels[static_cast<std::size_t>(t.label1)] + " vs " + labels[static_cast<std::size_t>(t.label2)]
                                       : labels[static_cast<std::size_t>(t.label1)];
        if (!rows.count(row)) order.push_back(row);
        rows[row][t.layer] = "t=" + num(t.result.t) + " p=" + num(t.result.p) + " q=" + num(t.q) + " d=" + num(t.result.cohenD);
    }
    std::ostringstream csv;
    csv << (paired ? "label_pair" : "label");
    for (int l = 0; l < layers; ++l) csv << ",Layer " << l;
    csv << "\n";
    for (const auto& row : order) {
        csv << csvField(row);
        for (int l = 0; l < layers; ++l) csv << "," << (rows[row].count(l) ? rows[row].at(l) : "");
        csv << "\n";
    }
    return csv.str();
}

}  // namespace

AnalysisReport analyzeStudy(const std::string& storeDir, const std::string& outDir, const AnalysisOptions& opt, const JobControl& job) {
    const StudyDefinition study = readStudyDefinition((fs::path(storeDir) / "study.json").string());
    const double threshold = opt.threshold >= 0 ? opt.threshold : study.confidenceThreshold;
    const int k = opt.topK >= 1 ? opt.topK : study.topK;
    const bool imported = !study.importedFrom.empty();
    std::set<std::string> references;
    for (const auto& s : study.sets) references.insert(s.referenceTarget);
    std::vector<std::string> labels;
    for (const auto& t : study.targets)
        if (!references.count(t.name)) labels.push_back(t.name);
    if (labels.empty() && !imported) throw InputError(study.sourcePath + ": every target is a reference target; no labels to analyse");
    std::vector<std::string> sites;
    for (auto s : study.relevance.sites) sites.push_back(explain::toString(s));
    const int L = static_cast<int>(labels.size());  // own reference sits at index L

    const analysis::BootstrapOptions* ciOptions = opt.bootstrap.resamples > 0 ? &opt.bootstrap : nullptr;
    if (ciOptions && !(opt.bootstrap.confidence > 0 && opt.bootstrap.confidence < 1))
        throw InputError("bootstrap confidence " + num(opt.bootstrap.confidence) + " is outside (0, 1)");
    const char* neuronComparisons = opt.neuronTests == NeuronComparisons::Reference ? "each label vs the set's reference target"
                                    : opt.neuronTests == NeuronComparisons::Labels  ? "every pair of labels"
                                                                                    : "none";
    for (double t : opt.sweepThresholds)
        if (!(t >= 0 && t <= 1)) throw InputError("sweep threshold " + num(t) + " is outside [0, 1]");
    for (int kk : opt.sweepTopK)
        if (kk < 1) throw InputError("sweep top-k " + std::to_string(kk) + " is below 1");

    AnalysisReport report;
    report.threshold = threshold;
    report.labels = labels;
    for (const auto& spec : study.sets) report.setsByCondition[spec.condition].push_back(spec.name);
    fs::create_directories(outDir);
    auto write = [&](const std::string& name, const std::string& text) {
        const std::string p = (fs::path(outDir) / name).string();
        fs::create_directories(fs::path(p).parent_path());
        io::writeFileAtomically(p, text);
        report.written.push_back(p);
    };
    auto writeSettings = [&] {  // settings beside the tables (the CSVs stay plain for pandas / R); written once every input was read
        nlohmann::json j;
        j["confidence_threshold"] = threshold;
        j["top_k"] = k;
        j["rank_by"] = opt.rankBy == analysis::RankBy::Magnitude ? "magnitude (published)" : "signed";
        j["readout"] = explain::toString(study.relevance.readout);
        j["rule"] = explain::toString(study.relevance.rule);
        j["labels"] = labels;
        j["fdr"] = "Benjamini-Hochberg; paired tests jointly over all sets and sites, independent tests jointly over all conditions and sites, "
                   "similarity per (set, site)";
        j["normalisation"] = "each per-layer vector divided by its absolute maximum (per image, target, site, layer)";
        j["test_units"] = {{"paired, independent", std::string(analysis::toString(analysis::TestUnit::PooledImageTopK)) +
                                                       ": n = passing images x top-k (the published tests; top50_global_results.csv and the "
                                                       "pairwise_ttest/ and ind_ttest/ tables hold these only)"},
                           {"paired_per_image, independent_per_image",
                            std::string(analysis::toString(analysis::TestUnit::ImageMean)) + ": n = passing images (not in the published study)"},
                           {"neuron_tests.safetensors", "one test per layer x neuron across passing images, BH over every layer x neuron of a family "
                                                "(not in the published study)"}};
        if (ciOptions) {
            j["bootstrap"] = {{"resamples", ciOptions->resamples}, {"seed", ciOptions->seed}, {"confidence", ciOptions->confidence},
                              {"methods", "percentile and BCa (scipy.stats.bootstrap conventions), resampling passing images; pooled tests: an image's "
                                          "top-k values resampled together; independent tests: each set resampled on its own"}};
        } else {
            j["bootstrap"] = nullptr;
        }
        j["neuron_tests"] = neuronComparisons;
        if (imported) {
            j["imported_from"] = study.importedFrom;
            j["normalisation"] = "as published (the imported top-k scores are the published pipeline's normalised values)";
        }
        write("analysis-settings.json", j.dump(2));
    };

    if (imported) {  // top-k lists only: confidence, top-k and consistency
        std::vector<RankedSet> ranked;
        for (const auto& spec : study.sets) {
            job.checkCancelled();
            ranked.push_back(readImported(storeDir, spec, sites, k, opt.rankBy));
        }
        writeSettings();
        writeRankingTables(ranked, sites, threshold, report, write, ciOptions, job);
        report.warnings.push_back(storeDir + ": imported from the published pipeline, which saved only the top-" + std::to_string(k) +
                                  " neurons per layer; similarity and t-tests need the full per-neuron relevance of a `study run`");
        return report;
    }

    std::vector<LoadedSet> sets;
    StoreAgreement agreement{study.parametersKey(), {}, {}};
    for (const auto& spec : study.sets) {
        job.checkCancelled();
        auto order = labels;
        order.push_back(spec.referenceTarget);
        sets.push_back(loadSet(storeDir, spec, order, sites, agreement));
        for (const auto& [site, ss] : sets.back().sites)
            if (ss.features < k)
                throw InputError("top-k " + std::to_string(k) + ": site '" + site + "' has " + std::to_string(ss.features) + " neurons per layer (set '" +
                                 spec.name + "')");
    }
    writeSettings();
    {
        std::vector<RankedSet> ranked;
        for (const auto& s : sets) ranked.push_back(rankFull(s, sites, L, k, opt.rankBy));
        writeRankingTables(ranked, sites, threshold, report, write, ciOptions, job);
    }

    // similarity per condition (pool of its sets, no threshold), aggregated per set
    std::ostringstream sim;
    sim << "set,site,label,layer,n,mean,sem,t,p,q,significant,invalid_reason,mean_ci_percentile_low,mean_ci_percentile_high,mean_ci_bca_low,mean_ci_bca_high\n";
    std::map<std::string, std::vector<const LoadedSet*>> byCondition;
    for (const auto& s : sets) byCondition[s.spec->condition].push_back(&s);
    for (const auto& [condition, members] : byCondition) {
        for (const auto& site : sites) {
            job.checkCancelled();
            SetSite pool;
            std::vector<std::vector<int>> imagesOf;
            for (const auto* s : members) {
                const SetSite& ss = s->sites.at(site);
                std::vector<int> idx;
                for (int i = 0; i < ss.images; ++i) idx.push_back(pool.images + i);
                imagesOf.push_back(idx);
                pool.data.insert(pool.data.end(), ss.data.begin(), ss.data.end());
                pool.images += ss.images;
                pool.targets = ss.targets;
                pool.layers = ss.layers;
                pool.features = ss.features;
            }
            const auto cos = analysis::pooledCosineToReference(pool.view(), L);
            for (std::size_t m = 0; m < members.size(); ++m) {
                std::vector<bool> passing;
                for (double c : members[m]->confidence) passing.push_back(c >= threshold);
                job.checkCancelled();
                const auto cells = analysis::aggregateSimilarity(cos, pool.targets, pool.layers, L, imagesOf[m], passing, 0.05, ciOptions);
                report.similarity[members[m]->spec->name][site] = cells;
                for (const auto& c : cells)
                    sim << members[m]->spec->name << "," << site << "," << labels[static_cast<std::size_t>(c.target)] << "," << c.layer << "," << c.n << ","
                        << num(c.mean) << "," << num(c.sem) << "," << num(c.t) << "," << num(c.p) << "," << num(c.q) << "," << (c.significant ? "true" : "false")
                        << "," << csvField(c.invalidReason) << "," << ciFields(c.meanCi) << "\n";
            }
        }
    }
    write("similarity.csv", sim.str());

    // where each target's logit went (pixels, CLS, position embedding, biases): exact for CP-LRP without Gamma
    {
        const bool conservative = explain::conservesLogit(study.relevance);
        std::ostringstream cons;
        cons << "set,image,target,logit,pixels,cls,position,biases,gap,relative_gap\n";
        int broken = 0, missing = 0;
        std::string worst;
        double worstGap = 0;
        for (const auto& s : sets) {
            std::vector<std::string> order = labels;
            order.push_back(s.spec->referenceTarget);
            for (std::size_t i = 0; i < s.imageNames.size(); ++i)
                for (std::size_t t = 0; t < order.size(); ++t) {
                    const auto& a = s.accounting[i][t];
                    if (a.empty()) {
                        ++missing;
                        continue;
                    }
                    const Conservation c = conservationOf(a);
                    const double rel = c.relativeGap;
                    cons << s.spec->name << "," << csvField(s.imageNames[i]) << "," << csvField(order[t]);
                    for (double v : a) cons << "," << num(v);
                    cons << "," << num(c.gap) << "," << num(rel) << "\n";
                    if (conservative && rel > 1e-3) {
                        ++broken;
                        if (rel > worstGap) worstGap = rel, worst = s.spec->name + "/" + s.imageNames[i] + " (" + order[t] + ")";
                    }
                }
        }
        write("conservation.csv", cons.str());
        if (missing > 0)
            report.warnings.push_back(std::to_string(missing) + " image x target records hold no accounting (stored by an earlier BiasScope): not in conservation.csv");
        if (broken > 0)
            report.warnings.push_back("conservation broken in " + std::to_string(broken) + " image x target(s): pixels + CLS + position + biases differ from the logit by more "
                                      "than 0.1 % (worst " + num(worstGap * 100) + " %, " + worst + "); CP-LRP without Gamma should conserve it");
    }

    // t-test families with the published joint BH: pooled (as published), then one value per image
    for (const auto& [condition, members] : byCondition)
        if (members.size() != 2)
            report.warnings.push_back("condition '" + condition + "' has " + std::to_string(members.size()) + " set(s); independent tests need exactly 2");
    std::ostringstream tests;
    tests << "family,group,site,layer,label1,label2,n1,n2,t,dof,p,q,significant,abs_d,mean1,mean2,test,invalid_reason,d,d_ci_percentile_low,"
             "d_ci_percentile_high,d_ci_bca_low,d_ci_bca_high,unit\n";
    std::vector<std::pair<double, std::string>> global;
    const int layers = sets.front().sites.at(sites.front()).layers;
    for (const auto unit : {analysis::TestUnit::PooledImageTopK, analysis::TestUnit::ImageMean}) {
        const analysis::TopKOptions topk{k, opt.rankBy, unit, ciOptions};
        const Families f = testFamilies(sets, byCondition, sites, L, threshold, topk, job);
        const bool published = unit == analysis::TestUnit::PooledImageTopK;
        for (std::size_t i = 0; i < f.paired.size(); ++i) {
            appendTests(tests, "paired", f.pairedKeys[i].first, f.pairedKeys[i].second, f.paired[i], labels, unit);
            if (!published) continue;
            write("pairwise_ttest/" + f.pairedKeys[i].first + "_" + f.pairedKeys[i].second + "_results.csv", publishedTable(f.paired[i], labels, layers, true));
            for (const auto& t : f.paired[i])
                if (std::isfinite(t.q))
                    global.emplace_back(t.q, csvField(labels[static_cast<std::size_t>(t.label1)] + " vs " + labels[static_cast<std::size_t>(t.label2)]) + "," +
                                                 f.pairedKeys[i].first + "_" + f.pairedKeys[i].second + "," + std::to_string(t.layer) + "," +
                                                 num(t.result.t) + "," + num(t.result.p) + "," + num(t.q) + "," + num(t.result.cohenD));
        }
        for (std::size_t i = 0; i < f.independent.size(); ++i) {
            appendTests(tests, "independent", f.indKeys[i].first, f.indKeys[i].second, f.independent[i], labels, unit);
            if (published)
                write("ind_ttest/" + f.indKeys[i].first + "_" + f.indKeys[i].second + "_results.csv", publishedTable(f.independent[i], labels, layers, false));
        }
    }
    write("ttests.csv", tests.str());
    std::stable_sort(global.begin(), global.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::ostringstream top;
    top << "comparison,category,layer,t_stat,p_value,q_value,cohen_d\n";  // published columns (cohen_d is |d_avg|)
    for (std::size_t i = 0; i < global.size() && i < 50; ++i) top << global[i].second << "\n";
    write("pairwise_ttest/top50_global_results.csv", top.str());

    if (opt.neuronTests != NeuronComparisons::None) {
        std::vector<NeuronTestFamily> nt;
        for (const auto& s : sets) {
            const auto pass = passingImages(s, threshold);
            if (pass.size() < 2) continue;
            for (const auto& site : sites) {
                const auto v = s.sites.at(site).view();
                for (int a = 0; a < L; ++a) {
                    const std::vector<int> others = opt.neuronTests == NeuronComparisons::Reference ? std::vector<int>{L} : [&] {
                        std::vector<int> o;
                        for (int b = a + 1; b < L; ++b) o.push_back(b);
                        return o;
                    }();
                    for (int b : others) {
                        job.checkCancelled();
                        const std::string name = labels[static_cast<std::size_t>(a)] + " vs " + (b == L ? s.spec->referenceTarget : labels[static_cast<std::size_t>(b)]);
                        nt.push_back(makeNeuronTestFamily("paired", s.spec->name, site, name, analysis::pairedNeuronTests(v, pass, a, b)));
                    }
                }
            }
        }
        for (const auto& [condition, members] : byCondition) {
            if (members.size() != 2) continue;
            const auto px = passingImages(*members[0], threshold), py = passingImages(*members[1], threshold);
            if (px.size() < 2 || py.size() < 2) continue;
            for (const auto& site : sites)
                for (int t = 0; t <= L; ++t) {
                    job.checkCancelled();
                    const std::string name = t < L ? labels[static_cast<std::size_t>(t)]
                                                   : "reference (" + members[0]->spec->referenceTarget + " / " + members[1]->spec->referenceTarget + ")";
                    nt.push_back(makeNeuronTestFamily(
                        "independent", condition, site, name,
                        analysis::independentNeuronTests(members[0]->sites.at(site).view(), px, t, members[1]->sites.at(site).view(), py, t)));
                }
        }
        const std::string table = (fs::path(outDir) / "neuron_tests.safetensors").string(),
                          significant = (fs::path(outDir) / "neuron_tests_significant.csv").string();
        writeNeuronTests(table, significant, nt);
        report.written.push_back(table);
        report.written.push_back(significant);
    }

    if (opt.sweeps) {  // the published robustness checks (threshold 0.5, top-k 10) as points of curves
        std::set<double> thresholds(opt.sweepThresholds.begin(), opt.sweepThresholds.end());
        thresholds.insert(threshold);
        int features = std::numeric_limits<int>::max();
        for (const auto& [site, ss] : sets.front().sites) features = std::min(features, ss.features);
        std::set<int> ks;
        for (int kk : opt.sweepTopK)
            if (kk <= features) ks.insert(kk);
        ks.insert(k);
        std::ostringstream sc, stt;
        sc << "parameter,value,set,site,layer,images,consistency_percent\n";
        stt << "parameter,value,family,group,site,tests,valid,significant\n";
        std::map<int, std::vector<RankedSet>> rankedByK;  // the ranking depends on k only: once per k, not per threshold point
        auto point = [&](const std::string& parameter, double value, double th, int kk) {
            auto [it, added] = rankedByK.try_emplace(kk);
            if (added)
                for (const auto& s : sets) it->second.push_back(rankFull(s, sites, L, kk, opt.rankBy));
            for (const auto& r : it->second) {
                std::vector<int> pass;
                for (std::size_t i = 0; i < r.confidence.size(); ++i)
                    if (r.confidence[i] >= th) pass.push_back(static_cast<int>(i));
                if (pass.empty()) continue;
                for (const auto& site : sites) {
                    std::vector<std::vector<std::vector<int>>> topK;
                    for (int img : pass) topK.push_back(r.topK.at(site)[static_cast<std::size_t>(img)]);
                    const auto c = analysis::neuronConsistency(topK);
                    for (std::size_t l = 0; l < c.size(); ++l)
                        sc << parameter << "," << num(value) << "," << r.name << "," << site << "," << l << "," << c[l].images << "," << num(c[l].percent) << "\n";
                }
            }
            for (const auto unit : {analysis::TestUnit::PooledImageTopK, analysis::TestUnit::ImageMean}) {
                const Families f = testFamilies(sets, byCondition, sites, L, th, {kk, opt.rankBy, unit, nullptr}, job);
                auto count = [&](const std::string& family, const std::vector<std::pair<std::string, std::string>>& keys, const std::vector<std::vector<LabelTest>>& fam) {
                    for (std::size_t i = 0; i < fam.size(); ++i) {
                        int valid = 0, sig = 0;
                        for (const auto& t : fam[i]) {
                            valid += t.result.valid();
                            sig += t.significant;
                        }
                        stt << parameter << "," << num(value) << "," << family << analysis::familySuffix(unit) << "," << keys[i].first << "," << keys[i].second
                            << "," << fam[i].size() << "," << valid << "," << sig << "\n";
                    }
                };
                count("paired", f.pairedKeys, f.paired);
                count("independent", f.indKeys, f.independent);
            }
        };
        for (double th : thresholds) point("confidence_threshold", th, th, k);
        for (int kk : ks) point("top_k", kk, threshold, kk);
        write("sweep_consistency.csv", sc.str());
        write("sweep_tests.csv", stt.str());
    }
    return report;
}

}  // namespace biasscope::study
