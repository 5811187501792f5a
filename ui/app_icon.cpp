#include "ui/app_icon.h"

#include <QFile>
#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace qcw::ui {

namespace {
// Mirrors resources/icons/qcw.svg (64x64 user units): a tile, a chain of tensor cores with
// their physical legs, and an arrow for "compress".
QPixmap paintIcon(int size) {
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.scale(size / 64.0, size / 64.0);
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(0x1f, 0x4e, 0x79));
    p.drawRoundedRect(QRectF(2, 2, 60, 60), 12, 12);
    const QColor bond(0x9f, 0xd3, 0xff);
    p.setPen(QPen(bond, 3, Qt::SolidLine, Qt::RoundCap));
    p.drawLine(QPointF(14, 32), QPointF(50, 32));
    for (int x : {14, 26, 38, 50}) p.drawLine(QPointF(x, 32), QPointF(x, 48));
    p.setPen(QPen(bond, 2));
    p.setBrush(Qt::white);
    for (int x : {14, 26, 38, 50}) p.drawEllipse(QPointF(x, 32), 6, 6);
    const QColor arrow(0xff, 0xcc, 0x4d);
    p.setPen(QPen(arrow, 4, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    p.setBrush(Qt::NoBrush);
    p.drawLine(QPointF(14, 16), QPointF(50, 16));
    QPainterPath head;
    head.moveTo(44, 11);
    head.lineTo(50, 16);
    head.lineTo(44, 21);
    p.drawPath(head);
    return pm;
}
}  // namespace

QIcon appIcon() {
    static const QIcon icon = [] {
        const QString svg = QStringLiteral(":/icons/qcw.svg");
        if (QFile::exists(svg) && QImageReader::supportedImageFormats().contains("svg")) return QIcon(svg);
        QIcon i;
        for (int s : {16, 24, 32, 48, 64, 128, 256}) i.addPixmap(paintIcon(s));
        return i;
    }();
    return icon;
}

}  // namespace qcw::ui
