// The shared spectrum view (ui/spectrum_view.h) in both of its modes: the model pane's
// keep-rank plot and the compression pane's before/after comparison.
#include "ui/spectrum_view.h"

#include <QMouseEvent>
#include <QtTest>

#include <cmath>
#include <vector>

using qcw::ui::SpectrumView;

namespace {
std::vector<double> decaying(int k) {
    std::vector<double> v;
    for (int i = 0; i < k; ++i) v.push_back(10.0 * std::pow(0.9, i));
    return v;
}
QCPItemStraightLine* visibleLine(SpectrumView& view, double x) {
    for (int i = 0; i < view.itemCount(); ++i)
        if (auto* line = qobject_cast<QCPItemStraightLine*>(view.item(i)))
            if (line->visible() && line->point1->coords().x() == x && line->point2->coords().x() == x) return line;
    return nullptr;
}
}  // namespace

class TestSpectrumView : public QObject {
    Q_OBJECT
private slots:
    void keepRankSplitsTheCurve() {
        SpectrumView view(SpectrumView::Mode::KeepRank);
        view.resize(480, 320);
        view.show();
        QCOMPARE(view.keepRank(), 0);
        QVERIFY(!view.setKeepRank(3));  // no values yet
        std::vector<double> v = decaying(20);
        v.push_back(0.0);  // an exact zero: not drawn on the log axis
        view.setSpectrum(v, 2.5, QStringLiteral("stats"));
        QVERIFY(view.setKeepRank(5));
        QCOMPARE(view.keepRank(), 5);
        QCOMPARE(view.graph(0)->dataCount(), 5 + 1);  // the kept values and the joint
        QCOMPARE(view.graph(1)->dataCount(), 15);     // the discarded ones but the zero
        QVERIFY(visibleLine(view, 5));
        QVERIFY(!view.setKeepRank(5));      // already there
        QVERIFY(view.setKeepRank(1000));    // clamped
        QCOMPARE(view.keepRank(), 21);
        QCOMPARE(view.graph(1)->dataCount(), 0);

        // A press in the plot asks for the rank under the mouse; the owner moves the line.
        QSignalSpy picked(&view, &SpectrumView::keepRankPicked);
        view.replot();
        const QPointF at(view.xAxis->coordToPixel(8), view.axisRect()->center().y());
        QMouseEvent press(QEvent::MouseButtonPress, at, view.mapToGlobal(at), Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&view, &press);
        QCOMPARE(picked.count(), 1);
        QCOMPARE(picked.at(0).at(0).toInt(), 8);
        QCOMPARE(view.keepRank(), 21);

        view.clear();
        QCOMPARE(view.keepRank(), 0);
        QCOMPARE(view.graph(0)->dataCount() + view.graph(1)->dataCount(), 0);
    }

    void compareShowsBothUpToTheCompressedRank() {
        SpectrumView view(SpectrumView::Mode::Compare);
        view.setSpectrum(decaying(8), 0, {});  // the other mode's call changes nothing
        QCOMPARE(view.graph(0)->dataCount(), 0);
        const std::vector<double> before = decaying(64);
        std::vector<double> after = decaying(12);
        after.resize(64, 1e-9);  // float rounding after the numerical rank
        view.setComparison(before, after, 12, QStringLiteral("svd"));
        QCOMPARE(view.graph(0)->dataCount(), 64);
        QCOMPARE(view.graph(1)->dataCount(), 12);
        QCOMPARE(view.graph(1)->name(), QStringLiteral("compressed (svd)"));
        QVERIFY(view.legend->visible());
        QVERIFY(visibleLine(view, 12));
        QCOMPARE(view.xAxis->range().upper, 65.0);
        view.clear();
        QCOMPARE(view.graph(0)->dataCount() + view.graph(1)->dataCount(), 0);
        QVERIFY(!visibleLine(view, 12));
    }
};

QTEST_MAIN(TestSpectrumView)
#include "test_spectrum_view.moc"
