#include "ui/layer_model.h"

#include "ui/format.h"

#include <QCollator>
#include <QFont>
#include <QRegularExpression>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

namespace qcw::ui {

namespace {
// Groups by position in the network; blocks use their index.
constexpr int kEmbeddingOrder = -1;
constexpr int kFinalNormOrder = 1 << 20;
constexpr int kOtherOrder = (1 << 20) + 1;
constexpr int kLmHeadOrder = (1 << 20) + 2;

int groupOrder(const qcw::LayerInfo& l) {
    const std::string& n = l.name;
    if (n.rfind("lm_head.", 0) == 0 || l.kind == "lm_head") return kLmHeadOrder;
    if (l.kind == "embedding" || n.rfind("model.embed_tokens.", 0) == 0) return kEmbeddingOrder;
    if (l.block >= 0) return l.block;
    if (n.rfind("model.final_layernorm.", 0) == 0) return kFinalNormOrder;
    return kOtherOrder;
}

QString groupTitle(int order) {
    switch (order) {
    case kEmbeddingOrder: return QStringLiteral("embedding");
    case kFinalNormOrder: return QStringLiteral("final layernorm");
    case kOtherOrder: return QStringLiteral("other");
    case kLmHeadOrder: return QStringLiteral("lm_head");
    default: return QStringLiteral("block %1").arg(order);
    }
}

// Position of a tensor inside its block, in the order the forward pass uses it; a module's
// weight comes before its bias.
int networkRank(const std::string& name) {
    static const char* const kModules[] = {"input_layernorm", "q_layernorm", "k_layernorm", "q_proj", "k_proj",
                                           "v_proj", "dense", "fc1", "fc2"};
    int rank = static_cast<int>(std::size(kModules));
    for (int i = 0; i < static_cast<int>(std::size(kModules)); ++i)
        if (name.find(std::string(".") + kModules[i] + ".") != std::string::npos) {
            rank = i;
            break;
        }
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    return rank * 2 + (bias ? 1 : 0);
}

QString groupKind(int order) {
    switch (order) {
    case kEmbeddingOrder: return QStringLiteral("embedding");
    case kFinalNormOrder: return QStringLiteral("layernorm");
    case kOtherOrder: return QStringLiteral("other");
    case kLmHeadOrder: return QStringLiteral("lm_head");
    default: return QStringLiteral("block");
    }
}
}  // namespace

LayerTreeModel::LayerTreeModel(QObject* parent) : QAbstractItemModel(parent) {}
LayerTreeModel::~LayerTreeModel() = default;

void LayerTreeModel::setSummary(std::shared_ptr<const qcw::ModelSummary> summary) {
    beginResetModel();
    summary_ = std::move(summary);
    groups_.clear();
    if (summary_) {
        std::map<int, Group> byOrder;
        std::map<int, std::set<std::string>> dtypes;
        const auto& layers = summary_->layers;
        for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
            const int order = groupOrder(layers[i]);
            Group& g = byOrder[order];
            if (g.layers.empty()) {
                g.title = groupTitle(order);
                g.kind = groupKind(order);
            }
            g.layers.push_back(i);
            g.params += layers[i].params;
            if (layers[i].compressible) ++g.compressible;
            dtypes[order].insert(layers[i].dtype);
        }
        for (auto& [order, g] : byOrder) {
            std::stable_sort(g.layers.begin(), g.layers.end(), [&layers](int a, int b) {
                return networkRank(layers[a].name) < networkRank(layers[b].name);
            });
            const auto& ds = dtypes[order];
            g.dtype = ds.size() == 1 ? QString::fromStdString(*ds.begin()) : QStringLiteral("mixed");
            groups_.push_back(std::move(g));
        }
    }
    endResetModel();
}

int LayerTreeModel::tensorCount() const { return summary_ ? static_cast<int>(summary_->layers.size()) : 0; }

// Group rows carry internal id 0; tensor rows carry their group's row + 1.
QModelIndex LayerTreeModel::index(int row, int column, const QModelIndex& parent) const {
    if (column < 0 || column >= ColumnCount || row < 0) return {};
    if (!parent.isValid()) {
        if (row >= static_cast<int>(groups_.size())) return {};
        return createIndex(row, column, quintptr(0));
    }
    if (parent.internalId() != 0) return {};
    const int g = parent.row();
    if (g < 0 || g >= static_cast<int>(groups_.size()) || row >= static_cast<int>(groups_[g].layers.size())) return {};
    return createIndex(row, column, quintptr(g + 1));
}

QModelIndex LayerTreeModel::parent(const QModelIndex& child) const {
    if (!child.isValid() || child.internalId() == 0) return {};
    return createIndex(static_cast<int>(child.internalId() - 1), 0, quintptr(0));
}

int LayerTreeModel::rowCount(const QModelIndex& parent) const {
    if (!parent.isValid()) return static_cast<int>(groups_.size());
    if (parent.internalId() != 0 || parent.column() != 0) return 0;
    return static_cast<int>(groups_[parent.row()].layers.size());
}

int LayerTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant LayerTreeModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || !summary_) return {};
    if (index.internalId() == 0) return groupData(groups_[index.row()], index.row(), index.column(), role);
    const Group& g = groups_[index.internalId() - 1];
    const int layer = g.layers[index.row()];
    return layerData(summary_->layers[layer], index.row(), index.column(), role);
}

QVariant LayerTreeModel::groupData(const Group& g, int row, int column, int role) const {
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case Name: return g.title;
        case Kind: return g.kind;
        case Shape: return g.layers.size() == 1 ? tr("1 tensor") : tr("%1 tensors").arg(g.layers.size());
        case Params: return formatCount(g.params);
        case Dtype: return g.dtype;
        case Compressible: return tr("%1 of %2").arg(g.compressible).arg(g.layers.size());
        }
        break;
    case SortRole:
        switch (column) {
        case Name: return g.title;
        case Kind: return g.kind;
        case Shape: return static_cast<qlonglong>(g.layers.size());
        case Params: return static_cast<qlonglong>(g.params);
        case Dtype: return g.dtype;
        case Compressible: return g.compressible;
        }
        break;
    case Qt::TextAlignmentRole:
        if (column == Params) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        break;
    case Qt::FontRole: {
        QFont f;
        f.setBold(true);
        return f;
    }
    case Qt::ToolTipRole:
        return tr("%1: %2 parameters in %3 tensors, %4 compressible")
            .arg(g.title, formatCount(g.params))
            .arg(g.layers.size())
            .arg(g.compressible);
    case IsGroupRole: return true;
    case TensorNameRole: return g.title;
    case NaturalOrderRole: return row;
    }
    return {};
}

QVariant LayerTreeModel::layerData(const qcw::LayerInfo& l, int order, int column, int role) const {
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case Name: return QString::fromStdString(l.name);
        case Kind: return QString::fromStdString(l.kind);
        case Shape: return formatShape(l.shape);
        case Params: return formatCount(l.params);
        case Dtype: return QString::fromStdString(l.dtype);
        case Compressible: return l.compressible ? tr("yes") : tr("no");
        }
        break;
    case SortRole:
        switch (column) {
        case Name: return QString::fromStdString(l.name);
        case Kind: return QString::fromStdString(l.kind);
        case Shape: return static_cast<qlonglong>(l.params);
        case Params: return static_cast<qlonglong>(l.params);
        case Dtype: return QString::fromStdString(l.dtype);
        case Compressible: return l.compressible;
        }
        break;
    case Qt::TextAlignmentRole:
        if (column == Params) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        break;
    case Qt::ToolTipRole:
        return tr("%1\n%2, %3, %4 parameters%5")
            .arg(QString::fromStdString(l.name), QString::fromStdString(l.kind), formatShape(l.shape),
                 formatCount(l.params),
                 l.compressible ? tr("\ncompressible: a 2-D weight the decompositions can factorize")
                                : QString());
    case IsGroupRole: return false;
    case TensorNameRole: return QString::fromStdString(l.name);
    case NaturalOrderRole: return order;
    }
    return {};
}

QVariant LayerTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name: return tr("Name");
        case Kind: return tr("Kind");
        case Shape: return tr("Shape");
        case Params: return tr("Parameters");
        case Dtype: return tr("Dtype");
        case Compressible: return tr("Compressible");
        }
    }
    if (role == Qt::TextAlignmentRole && section == Params) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

// ---------------------------------------------------------------------------------------

LayerFilterProxy::LayerFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setRecursiveFilteringEnabled(true);
    setSortRole(LayerTreeModel::SortRole);
    setDynamicSortFilter(true);
}

void LayerFilterProxy::setFilterText(const QString& text) {
    QStringList terms = text.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
    if (terms == terms_) return;
    terms_ = terms;
    invalidateFilter();
}

void LayerFilterProxy::setCompressibleOnly(bool on) {
    if (on == compressibleOnly_) return;
    compressibleOnly_ = on;
    invalidateFilter();
}

int LayerFilterProxy::visibleTensorCount() const {
    int n = 0;
    for (int r = 0; r < rowCount(); ++r) n += rowCount(index(r, 0));
    return n;
}

bool LayerFilterProxy::matches(const QString& haystack) const {
    for (const QString& t : terms_)
        if (!haystack.contains(t, Qt::CaseInsensitive)) return false;
    return true;
}

bool LayerFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    const QAbstractItemModel* m = sourceModel();
    const QModelIndex idx = m->index(sourceRow, LayerTreeModel::Name, sourceParent);
    const bool isGroup = m->data(idx, LayerTreeModel::IsGroupRole).toBool();
    if (isGroup) {
        // Groups show when one of their tensors does (recursive filtering); on their own
        // only when nothing filters.
        return terms_.isEmpty() && !compressibleOnly_;
    }
    if (compressibleOnly_ && !m->data(m->index(sourceRow, LayerTreeModel::Compressible, sourceParent),
                                      LayerTreeModel::SortRole).toBool())
        return false;
    if (terms_.isEmpty()) return true;
    const QString hay = m->data(idx, LayerTreeModel::TensorNameRole).toString() + QLatin1Char(' ') +
                        m->data(m->index(sourceRow, LayerTreeModel::Kind, sourceParent)).toString() +
                        QLatin1Char(' ') + m->data(sourceParent, LayerTreeModel::TensorNameRole).toString();
    return matches(hay);
}

bool LayerFilterProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant a = left.data(sortRole());
    const QVariant b = right.data(sortRole());
    if (a.typeId() == QMetaType::QString || b.typeId() == QMetaType::QString) {
        static thread_local QCollator collator = [] {
            QCollator c;
            c.setNumericMode(true);
            c.setCaseSensitivity(Qt::CaseInsensitive);
            return c;
        }();
        const int c = collator.compare(a.toString(), b.toString());
        if (c != 0) return c < 0;
    } else {
        const QPartialOrdering o = QVariant::compare(a, b);
        if (o == QPartialOrdering::Less) return true;
        if (o == QPartialOrdering::Greater) return false;
    }
    // Ties keep the order of the network.
    return left.data(LayerTreeModel::NaturalOrderRole).toInt() < right.data(LayerTreeModel::NaturalOrderRole).toInt();
}

}  // namespace qcw::ui
