// The Attention-IoU score family against hand-computed cases and its identities
// (reference-attention-iou.md section 4).
#include <QtTest/QtTest>
#include <cmath>
#include <random>

#include "TestRegistry.h"
#include "attention/Scores.h"

using namespace biasscope;

class TestAttentionScores : public QObject {
    Q_OBJECT
private slots:
    void publishedTestVectors() {
        const float a[] = {1, 1, 0, 0}, b[] = {1, 0, 0, 0};
        QVERIFY(std::abs(attention::attentionIoU(a, b, 4) - 0.8) < 1e-12);
        const float c[] = {3, 1}, d[] = {1, 1};
        QVERIFY(std::abs(attention::attentionIoU(c, d, 2) - 16.0 / 17.0) < 1e-12);  // 0.941176...
        QVERIFY(std::abs(attention::elementAbs(c, d, 2) - 0.75) < 1e-12);
        const float e[] = {1, 0}, f[] = {0, 1};
        QCOMPARE(attention::attentionIoU(e, f, 2), 0.0);  // disjoint supports
    }

    void identities() {
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(0, 1);
        std::vector<float> p(100), q(100), p3(100);
        for (int i = 0; i < 100; ++i) {
            p[static_cast<std::size_t>(i)] = u(rng);
            q[static_cast<std::size_t>(i)] = u(rng);
            p3[static_cast<std::size_t>(i)] = 3.5f * p[static_cast<std::size_t>(i)];
        }
        QVERIFY(std::abs(attention::attentionIoU(p.data(), p3.data(), 100) - 1.0) < 1e-6);  // 1 for equal maps (after L1), scale invariant
        QVERIFY(std::abs(attention::attentionIoU(p.data(), q.data(), 100) - attention::attentionIoU(q.data(), p.data(), 100)) < 1e-12);  // symmetric
        const double v = attention::attentionIoU(p.data(), q.data(), 100);
        QVERIFY(v > 0 && v < 1);
        // uniform map against a binary mask covering f of the pixels: 4f / (1 + 3f)
        std::vector<float> uni(100, 1.f), mask(100, 0.f);
        for (int i = 0; i < 30; ++i) mask[static_cast<std::size_t>(i)] = 1.f;
        QVERIFY(std::abs(attention::attentionIoU(uni.data(), mask.data(), 100) - attention::uniformBaseline(0.3)) < 1e-12);
        QVERIFY(std::abs(attention::uniformBaseline(0.3) - 1.2 / 1.9) < 1e-12);
        // an all-zero map is NaN (callers decide: mask score -> 0, heatmap score skipped)
        std::vector<float> zero(100, 0.f);
        QVERIFY(std::isnan(attention::attentionIoU(zero.data(), mask.data(), 100)));
        // nearest (integer) upsampling does not change it
        std::vector<float> p2, q2;
        for (int i = 0; i < 100; ++i)
            for (int r = 0; r < 4; ++r) {
                p2.push_back(p[static_cast<std::size_t>(i)]);
                q2.push_back(q[static_cast<std::size_t>(i)]);
            }
        QVERIFY(std::abs(attention::attentionIoU(p2.data(), q2.data(), 400) - v) < 1e-9);
    }

    void hardScores() {
        const float P[] = {0.9f, 0.1f, 0.8f, 0.2f}, Q[] = {1, 0, 0, 1};
        QCOMPARE(attention::topKIoU(P, Q, 4), 1.0 / 3.0);  // top-2 of P = {0, 2}; B = {0, 3}: 1 / 3
        QCOMPARE(attention::pointingGame(P, Q, 4), 0.5);   // q at argmax P = 1 / sum Q
        const float none[] = {0, 0, 0, 0};
        QVERIFY(std::isnan(attention::topKIoU(P, none, 4)));
    }

    // localisation measures, by hand: P = (0.9, 0.1, 0.8, 0.2), B = {0, 3}
    void localisationByHand() {
        const float P[] = {0.9f, 0.1f, 0.8f, 0.2f}, Q[] = {1, 0, 0, 1};
        QVERIFY(std::abs(attention::relevanceMassAccuracy(P, Q, 4) - (0.9 + 0.2) / 2.0) < 1e-7);  // 1.1 / 2.0
        QCOMPARE(attention::relevanceRankAccuracy(P, Q, 4), 0.5);  // top-2 = {0, 2}: one of two in B
        // AUC: pairs (in B, not in B): (0.9 > 0.1), (0.9 > 0.8), (0.2 > 0.1), (0.2 < 0.8): 3 of 4
        QCOMPARE(attention::localisationAuc(P, Q, 4), 0.75);
        // ties: P = (1, 1, 1, 0), B = {0, 3}: the top-2 are two of the three tied ones, each in B with chance 1/3
        const float T[] = {1, 1, 1, 0};
        QVERIFY(std::abs(attention::relevanceRankAccuracy(T, Q, 4) - (2.0 / 3.0) / 2.0) < 1e-12);
        // AUC with ties: (1 vs 1) x2 ties = 0.5 each, (0 vs 1) x2 = 0: (0.5 + 0.5) / 4
        QCOMPARE(attention::localisationAuc(T, Q, 4), 0.25);
        // the mask is binarised at 0.5 (a published background mask is 1e-4 on the bird, not 0)
        const float soft[] = {0.9999f, 1e-4f, 1e-4f, 0.9999f};
        QCOMPARE(attention::relevanceRankAccuracy(P, soft, 4), 0.5);
        // undefined: empty mask (all three), all-zero map (mass), a mask covering everything (AUC)
        const float none[] = {0, 0, 0, 0}, all[] = {1, 1, 1, 1};
        QVERIFY(std::isnan(attention::relevanceMassAccuracy(P, none, 4)) && std::isnan(attention::relevanceRankAccuracy(P, none, 4)) &&
                std::isnan(attention::localisationAuc(P, none, 4)));
        QVERIFY(std::isnan(attention::relevanceMassAccuracy(none, Q, 4)));
        QVERIFY(std::isnan(attention::localisationAuc(P, all, 4)));
        // a perfect map: AUC 1, rank accuracy 1, mass 1
        const float perfect[] = {1, 0, 0, 1};
        QCOMPARE(attention::localisationAuc(perfect, Q, 4), 1.0);
        QCOMPARE(attention::relevanceRankAccuracy(perfect, Q, 4), 1.0);
        QCOMPARE(attention::relevanceMassAccuracy(perfect, Q, 4), 1.0);
    }
};

BIASSCOPE_REGISTER_TEST(TestAttentionScores)
#include "TestAttentionScores.moc"
